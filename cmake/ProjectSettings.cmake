# Project-wide compile settings as one INTERFACE target that every attnx target links.
add_library(attnx_settings INTERFACE)
target_compile_features(attnx_settings INTERFACE cxx_std_17)
# Qt's `slots`/`signals` macros collide with LibTorch: use Q_SLOTS / Q_SIGNALS / Q_EMIT.
target_compile_definitions(attnx_settings INTERFACE QT_NO_KEYWORDS
  ATTNX_VERSION="${PROJECT_VERSION}")
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(attnx_settings INTERFACE -Wall -Wextra -Wno-unused-parameter)
endif()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
