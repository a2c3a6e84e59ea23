# embed_files(OUTPUT NAME FILES...): writes OUTPUT, a C++ source that defines
# `const tutti::embedded_files& NAME()`, the files' bytes by their base names,
# so a program serves them without anything on disk. The source is written
# again whenever a file changes.
function(embed_files output name)
  set(files ${ARGN})
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DNAME=${name} "-DFILES=${files}"
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedFilesScript.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/EmbedFilesScript.cmake
    COMMENT "Embedding ${name}"
    VERBATIM)
endfunction()
