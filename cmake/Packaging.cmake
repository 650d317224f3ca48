# Install rules and the CPack .deb (packaging/). An installed attnx finds its files next to its binary:
# <prefix>/share/attnx/{default-model,gpt2-tokenizer,banks} (core/io/model_locator.cpp).
include(GNUInstallDirs)

install(TARGETS attnx-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(ATTNX_WITH_UI)
  install(TARGETS attnx RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES packaging/attnx.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
  install(FILES packaging/io.github.attnx.attnx.metainfo.xml DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
  install(FILES packaging/attnx.svg DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
endif()

install(DIRECTORY resources/banks DESTINATION ${CMAKE_INSTALL_DATADIR}/attnx)
if(EXISTS ${PROJECT_SOURCE_DIR}/resources/default-model/model.safetensors)
  install(DIRECTORY resources/default-model DESTINATION ${CMAKE_INSTALL_DATADIR}/attnx)
endif()
# GPT-2's tokenizer is fetched data (scripts/fetch_data.sh), never committed: it enters the package
# from the build machine's data folder, so the installed default model can encode text.
if(EXISTS ${ATTNX_DATA_DIR}/gpt2-tokenizer/vocab.json)
  install(FILES ${ATTNX_DATA_DIR}/gpt2-tokenizer/vocab.json ${ATTNX_DATA_DIR}/gpt2-tokenizer/merges.txt
          DESTINATION ${CMAKE_INSTALL_DATADIR}/attnx/gpt2-tokenizer)
endif()

# Man pages, gzipped at build time as Debian policy asks.
find_program(GZIP_EXECUTABLE gzip REQUIRED)
set(_man_pages attnx-cli.1)
if(ATTNX_WITH_UI)
  list(APPEND _man_pages attnx.1)
endif()
foreach(page IN LISTS _man_pages)
  set(_gz ${CMAKE_CURRENT_BINARY_DIR}/man/${page}.gz)
  add_custom_command(OUTPUT ${_gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
    COMMAND ${GZIP_EXECUTABLE} -9 -n -c ${PROJECT_SOURCE_DIR}/packaging/man/${page} > ${_gz}
    DEPENDS ${PROJECT_SOURCE_DIR}/packaging/man/${page} VERBATIM)
  list(APPEND _man_gz ${_gz})
  install(FILES ${_gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endforeach()
add_custom_target(attnx_man_pages ALL DEPENDS ${_man_gz})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME attnx)
set(CPACK_PACKAGE_VENDOR "attnx")
set(CPACK_PACKAGE_CONTACT "attnx developers <attnx@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "explore and distil sparse attention for GPT-2 models")
set(CPACK_PACKAGE_DESCRIPTION "attnx replaces GPT-2's dense causal self-attention with a learnable mixture of candidate
attention masks, distils it from the unchanged model, prunes and compiles it into sparse
attention, and measures time, memory, KL and perplexity. The desktop app (attnx) edits mask
banks, trains with live curves and compares attention heatmaps and completions; attnx-cli does
the same work headless. Ships a small default GPT-2 trained on public-domain text.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_FILE_NAME "attnx_${PROJECT_VERSION}_amd64")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Library dependencies come from dpkg-shlibdeps (Debian's own packages); OpenBLAS is loaded by LibTorch
# at run time (without it LibTorch multiplies ~60x slower) and the Qt xcb platform plugin by Qt, so
# neither shows up as a linked library.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(_deb_extra "libopenblas0-pthread")
if(ATTNX_WITH_UI)
  string(APPEND _deb_extra ", qt6-qpa-plugins")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_deb_extra}")
include(CPack)
