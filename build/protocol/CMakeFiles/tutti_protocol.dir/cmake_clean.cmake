file(REMOVE_RECURSE
  "CMakeFiles/tutti_protocol.dir/capnp_convert.cpp.o"
  "CMakeFiles/tutti_protocol.dir/capnp_convert.cpp.o.d"
  "CMakeFiles/tutti_protocol.dir/errors.cpp.o"
  "CMakeFiles/tutti_protocol.dir/errors.cpp.o.d"
  "CMakeFiles/tutti_protocol.dir/gen/protocol/api.capnp.c++.o"
  "CMakeFiles/tutti_protocol.dir/gen/protocol/api.capnp.c++.o.d"
  "CMakeFiles/tutti_protocol.dir/names.cpp.o"
  "CMakeFiles/tutti_protocol.dir/names.cpp.o.d"
  "gen/protocol/api.capnp.c++"
  "gen/protocol/api.capnp.h"
  "libtutti_protocol.a"
  "libtutti_protocol.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/tutti_protocol.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
