# Project-wide compile settings as one INTERFACE target that every attnx target links.
add_library(attnx_settings INTERFACE)
target_compile_features(attnx_settings INTERFACE cxx_std_17)
# Qt's `slots`/`signals` macros collide with LibTorch: use Q_SLOTS / Q_SIGNALS / Q_EMIT.
target_compile_definitions(attnx_settings INTERFACE QT_NO_KEYWORDS
  ATTNX_VERSION="${PROJECT_VERSION}")
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  # As in well-kept Qt projects: a class with virtual functions needs a virtual destructor, an
  # override must not hide the base's other overloads, and no compiler extensions.
  target_compile_options(attnx_settings INTERFACE -Wall -Wextra -Wno-unused-parameter -Wnon-virtual-dtor
                         -Woverloaded-virtual -pedantic)
endif()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

# Sanitizer builds of everything (core, ui, apps, tests): -DATTNX_SANITIZE=address,undefined or
# -DATTNX_SANITIZE=thread, in a build folder of their own (scripts/sanitize.sh runs the suite so).
set(ATTNX_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined or thread (empty: none)")
if(ATTNX_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "ATTNX_SANITIZE needs GCC or Clang")
  endif()
  target_compile_options(attnx_settings INTERFACE -fsanitize=${ATTNX_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(attnx_settings INTERFACE -fsanitize=${ATTNX_SANITIZE})
endif()
