# Build-time generated pieces, included by CMakeLists.txt:
#   - src/core/errors/signatures.txt embedded into rotor_core as a C array
#     (rt_sig_builtin_text / rt_sig_builtin_len, parsed at start-up);
#   - src/admin/dashboard.html embedded into rotor_io the same way
#     (adm_dashboard_html_text / adm_dashboard_html_len), served at GET /;
#   - gen_errors_md, which renders the error vocabulary as docs/errors.md,
#     the `errors_md` target that rewrites the committed file, and a test
#     that fails when the committed file differs from the table;
#   - bench_classify (not built by default: cmake --build B --target bench_classify).
#
# The same file doubles as the embedding script when run with
# `cmake -DEMBED_IN=... -DEMBED_OUT=... -DEMBED_SYM=... [-DEMBED_HEADER=...] -P generated.cmake`
# (EMBED_HEADER: the header declaring the symbols; core/errors/sig.h if unset).

if(CMAKE_SCRIPT_MODE_FILE)
  if(NOT EMBED_IN OR NOT EMBED_OUT OR NOT EMBED_SYM)
    message(FATAL_ERROR "generated.cmake -P needs EMBED_IN, EMBED_OUT and EMBED_SYM")
  endif()
  file(READ "${EMBED_IN}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
  get_filename_component(src_name "${EMBED_IN}" NAME)
  if(NOT EMBED_HEADER)
    set(EMBED_HEADER "core/errors/sig.h")
  endif()
  file(WRITE "${EMBED_OUT}.tmp"
    "/* Generated from ${src_name} by cmake/generated.cmake; do not edit. */\n"
    "#include \"${EMBED_HEADER}\"\n\n"
    "const char ${EMBED_SYM}_text[] = {\n${bytes}0x00\n};\n"
    "const size_t ${EMBED_SYM}_len = ${len};\n")
  file(RENAME "${EMBED_OUT}.tmp" "${EMBED_OUT}")
  return()
endif()

set(ROTOR_GEN_DIR ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${ROTOR_GEN_DIR})
set(ROTOR_SIG_DATA ${CMAKE_SOURCE_DIR}/src/core/errors/signatures.txt)
add_custom_command(
  OUTPUT ${ROTOR_GEN_DIR}/sig_builtin.c
  COMMAND ${CMAKE_COMMAND} -DEMBED_IN=${ROTOR_SIG_DATA}
          -DEMBED_OUT=${ROTOR_GEN_DIR}/sig_builtin.c -DEMBED_SYM=rt_sig_builtin
          -P ${CMAKE_CURRENT_LIST_FILE}
  DEPENDS ${ROTOR_SIG_DATA} ${CMAKE_CURRENT_LIST_FILE}
  COMMENT "Embedding signatures.txt"
  VERBATIM)
target_sources(rotor_core PRIVATE ${ROTOR_GEN_DIR}/sig_builtin.c)

# The dashboard belongs to rotor_io, which CMakeLists.txt defines after
# including this file: attach the generated source once the directory is
# fully processed.
set(ROTOR_DASHBOARD ${CMAKE_SOURCE_DIR}/src/admin/dashboard.html)
add_custom_command(
  OUTPUT ${ROTOR_GEN_DIR}/dashboard_html.c
  COMMAND ${CMAKE_COMMAND} -DEMBED_IN=${ROTOR_DASHBOARD}
          -DEMBED_OUT=${ROTOR_GEN_DIR}/dashboard_html.c -DEMBED_SYM=adm_dashboard_html
          -DEMBED_HEADER=admin/dashboard.h
          -P ${CMAKE_CURRENT_LIST_FILE}
  DEPENDS ${ROTOR_DASHBOARD} ${CMAKE_CURRENT_LIST_FILE}
  COMMENT "Embedding dashboard.html"
  VERBATIM)
cmake_language(DEFER CALL target_sources rotor_io PRIVATE ${ROTOR_GEN_DIR}/dashboard_html.c)

add_executable(gen_errors_md tools/gen_errors_md.c)
target_link_libraries(gen_errors_md PRIVATE rotor_core)
add_custom_target(errors_md
  COMMAND gen_errors_md ${CMAKE_SOURCE_DIR}/docs/errors.md
  COMMENT "Rendering docs/errors.md from src/core/errors/vocab.def")
enable_testing()
add_test(NAME docs.errors_md_current
         COMMAND gen_errors_md --check ${CMAKE_SOURCE_DIR}/docs/errors.md)

add_executable(bench_classify EXCLUDE_FROM_ALL bench/bench_classify.c)
target_link_libraries(bench_classify PRIVATE rotor_core)
