# embed_text.cmake: turns one data file into a C array the daemon links
# (e.g. the concept lexicon daemon/lexicon/concepts-sv.txt). Run by the
# build (cmake -P), not by hand:
#   cmake -DSRC=<file> -DOUT=<file.c> -DNAME=<symbol> -P cmake/embed_text.cmake
# defines `const char NAME[]` (the bytes, NUL-terminated) and
# `const size_t NAME_len` (without the NUL).
file(READ "${SRC}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(base "${SRC}" NAME)
set(body "/* Generated from ${base} by cmake/embed_text.cmake: do not edit. */\n#include <stddef.h>\n\n")
string(APPEND body "extern const char ${NAME}[];\nextern const size_t ${NAME}_len;\n")
string(APPEND body "const char ${NAME}[] = {${bytes}0x00};\nconst size_t ${NAME}_len = ${size};\n")
file(WRITE "${OUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
