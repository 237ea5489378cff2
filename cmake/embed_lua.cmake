# embed_lua.cmake: run by `cmake -P` at build time (hokm_embed_lua in
# cmake/HokmEmbedLua.cmake); writes OUT, a C++ source that includes HEADER
# and defines, in NAMESPACE, one std::string_view per Lua script in SCRIPTS
# (NAME=PATH entries separated by |), each the file's text as a raw string
# literal.
set(text "// Generated from the .lua files by cmake/embed_lua.cmake: do not edit.\n")
string(APPEND text "#include \"${HEADER}\"\n\nnamespace ${NAMESPACE} {\n")
string(REPLACE "|" ";" entries "${SCRIPTS}")
foreach(entry IN LISTS entries)
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 name)
  list(GET pair 1 path)
  file(READ "${path}" body)
  string(FIND "${body}" ")lua\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${path} holds )lua\" and cannot be a raw string literal")
  endif()
  string(APPEND text "\nextern const std::string_view ${name} = R\"lua(${body})lua\";\n")
endforeach()
string(APPEND text "\n}  // namespace ${NAMESPACE}\n")
file(WRITE "${OUT}.tmp" "${text}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
