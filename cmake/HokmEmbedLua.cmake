# hokm_embed_lua(TARGET <target> HEADER <include path> NAMESPACE <ns>
#                SCRIPTS <Name>=<file.lua> ...)
# Lua scripts live in .lua files; at build time each becomes an
# `extern const std::string_view Name` (declared in HEADER, in NAMESPACE)
# in a generated source added to TARGET, so the C++ code never carries Lua
# text and editing a script rebuilds only that source.
function(hokm_embed_lua)
  cmake_parse_arguments(ARG "" "TARGET;HEADER;NAMESPACE" "SCRIPTS" ${ARGN})
  set(files)
  foreach(entry IN LISTS ARG_SCRIPTS)
    string(REPLACE "=" ";" pair "${entry}")
    list(GET pair 1 path)
    list(APPEND files ${path})
  endforeach()
  string(REPLACE ";" "|" scripts_arg "${ARG_SCRIPTS}")
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${ARG_TARGET}_lua_scripts.cc)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} "-DSCRIPTS=${scripts_arg}" -DOUT=${out} -DHEADER=${ARG_HEADER}
            -DNAMESPACE=${ARG_NAMESPACE} -P ${PROJECT_SOURCE_DIR}/cmake/embed_lua.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/embed_lua.cmake
    COMMENT "Embedding the Lua scripts of ${ARG_TARGET}"
    VERBATIM)
  target_sources(${ARG_TARGET} PRIVATE ${out})
endfunction()
