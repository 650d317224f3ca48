# Every dependency comes from a Debian package (see architecture.md, "Libraries").
find_package(Torch REQUIRED)
# at::parallel_for is a header template that runs in parallel only in translation units compiled
# with OpenMP, the intra-op backend of Debian's and pip's LibTorch: without -fopenmp every
# parallel_for of our kernels ran its whole range on the calling thread. Every target, so that the
# template means the same in each (one definition rule).
find_package(OpenMP REQUIRED COMPONENTS CXX)
target_link_libraries(attnx_settings INTERFACE OpenMP::OpenMP_CXX)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
# PCRE2 through pkg-config where it is (Debian); else by its header and library, for machines that
# have the library but no pkg-config (scripts/gpu_check.sh unpacks Debian's libpcre2-dev on a GPU host).
find_package(PkgConfig)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PCRE2 IMPORTED_TARGET libpcre2-8)
endif()
if(NOT TARGET PkgConfig::PCRE2)
  find_path(PCRE2_INCLUDE_DIR pcre2.h REQUIRED)
  find_library(PCRE2_LIBRARY NAMES libpcre2-8.a pcre2-8 REQUIRED)
  add_library(PkgConfig::PCRE2 INTERFACE IMPORTED)
  target_include_directories(PkgConfig::PCRE2 INTERFACE ${PCRE2_INCLUDE_DIR})
  target_link_libraries(PkgConfig::PCRE2 INTERFACE ${PCRE2_LIBRARY})
endif()
find_package(Threads REQUIRED)

if(ATTNX_WITH_UI OR ATTNX_BUILD_TESTS)
  set(_qt_components Core)
  if(ATTNX_WITH_UI)
    list(APPEND _qt_components Gui Widgets Network PrintSupport Svg)
  endif()
  if(ATTNX_BUILD_TESTS)
    list(APPEND _qt_components Test)
  endif()
  find_package(Qt6 REQUIRED COMPONENTS ${_qt_components})
endif()
if(ATTNX_WITH_UI)
  find_package(QCustomPlotQt6 REQUIRED)
endif()

# CUDA kernels of our own build only when a CUDA LibTorch and a CUDA compiler are present.
set(ATTNX_HAVE_CUDA OFF)
if(NOT ATTNX_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER AND TORCH_CUDA_LIBRARIES)
    set(ATTNX_HAVE_CUDA ON)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 80 90)  # A100 and H100; override with -DCMAKE_CUDA_ARCHITECTURES=...
    endif()
    enable_language(CUDA)
  elseif(ATTNX_WITH_CUDA STREQUAL "ON")
    message(FATAL_ERROR "ATTNX_WITH_CUDA=ON but no CUDA compiler or CUDA LibTorch was found")
  endif()
endif()
message(STATUS "attnx: UI=${ATTNX_WITH_UI} tests=${ATTNX_BUILD_TESTS} CUDA=${ATTNX_HAVE_CUDA} Torch=${Torch_VERSION}")
