# containerd's gRPC API as a C++ library (tutti::containerd_api): the .proto
# files Debian ships for containerd 1.6 (golang-github-containerd-containerd-dev,
# with gogoproto's options from golang-github-gogo-protobuf-dev) compiled by
# protoc and grpc_cpp_plugin at build time. Generated code is not ours: it is
# built without the project's warnings.
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

set(TUTTI_GOCODE_ROOT "/usr/share/gocode/src" CACHE PATH
    "Where Debian's Go sources (containerd's and gogoproto's .proto files) are")
set(_containerd_root "${TUTTI_GOCODE_ROOT}/github.com/containerd/containerd")
set(_gogo_root "${TUTTI_GOCODE_ROOT}/github.com/gogo/protobuf")
if(NOT EXISTS "${_containerd_root}/api/services/tasks/v1/tasks.proto")
  message(FATAL_ERROR "containerd's API .proto files are missing under ${_containerd_root}: "
                      "install golang-github-containerd-containerd-dev (tools/install-deps.sh)")
endif()
if(NOT EXISTS "${_gogo_root}/gogoproto/gogo.proto")
  message(FATAL_ERROR "gogoproto/gogo.proto is missing under ${_gogo_root}: "
                      "install golang-github-gogo-protobuf-dev (tools/install-deps.sh)")
endif()

# Paths relative to TUTTI_GOCODE_ROOT (messages) and whether they hold services.
set(_messages
  github.com/containerd/containerd/protobuf/plugin/fieldpath.proto
  github.com/containerd/containerd/api/types/descriptor.proto
  github.com/containerd/containerd/api/types/metrics.proto
  github.com/containerd/containerd/api/types/mount.proto
  github.com/containerd/containerd/api/types/platform.proto
  github.com/containerd/containerd/api/types/task/task.proto
  github.com/containerd/containerd/api/events/task.proto)
set(_services
  github.com/containerd/containerd/api/services/containers/v1/containers.proto
  github.com/containerd/containerd/api/services/content/v1/content.proto
  github.com/containerd/containerd/api/services/diff/v1/diff.proto
  github.com/containerd/containerd/api/services/events/v1/events.proto
  github.com/containerd/containerd/api/services/images/v1/images.proto
  github.com/containerd/containerd/api/services/leases/v1/leases.proto
  github.com/containerd/containerd/api/services/snapshots/v1/snapshots.proto
  github.com/containerd/containerd/api/services/tasks/v1/tasks.proto
  github.com/containerd/containerd/api/services/version/v1/version.proto)

set(_out "${CMAKE_BINARY_DIR}/containerd-api")
set(_copies "${_out}/proto")
file(MAKE_DIRECTORY "${_out}")
set(_sources)
set(_import_flags -I "${_copies}" -I "${_gogo_root}" -I "${Protobuf_INCLUDE_DIRS}")

# protoc's C++ generator refuses weak imports (of gogoproto's and containerd's
# option files): the copies it reads import them plainly.
foreach(_proto IN LISTS _messages _services)
  file(READ "${TUTTI_GOCODE_ROOT}/${_proto}" _text)
  string(REPLACE "import weak " "import " _text "${_text}")
  file(CONFIGURE OUTPUT "${_copies}/${_proto}" CONTENT "${_text}" @ONLY)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${TUTTI_GOCODE_ROOT}/${_proto}")
endforeach()

# gogo.proto is imported as "gogoproto/gogo.proto", from its own root.
set(_gogo_cc "${_out}/gogoproto/gogo.pb.cc")
add_custom_command(
  OUTPUT "${_gogo_cc}" "${_out}/gogoproto/gogo.pb.h"
  COMMAND protobuf::protoc ${_import_flags} --cpp_out "${_out}" gogoproto/gogo.proto
  DEPENDS "${_gogo_root}/gogoproto/gogo.proto"
  COMMENT "protoc gogoproto/gogo.proto" VERBATIM)
list(APPEND _sources "${_gogo_cc}")

foreach(_proto IN LISTS _messages _services)
  string(REGEX REPLACE "\\.proto$" "" _stem "${_proto}")
  set(_outputs "${_out}/${_stem}.pb.cc" "${_out}/${_stem}.pb.h")
  set(_grpc_flags)
  if(_proto IN_LIST _services)
    list(APPEND _outputs "${_out}/${_stem}.grpc.pb.cc" "${_out}/${_stem}.grpc.pb.h")
    set(_grpc_flags --grpc_out "${_out}" "--plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN}")
  endif()
  add_custom_command(
    OUTPUT ${_outputs}
    COMMAND protobuf::protoc ${_import_flags} --cpp_out "${_out}" ${_grpc_flags} "${_proto}"
    DEPENDS "${_copies}/${_proto}"
    COMMENT "protoc ${_proto}" VERBATIM)
  foreach(_file IN LISTS _outputs)
    if(_file MATCHES "\\.cc$")
      list(APPEND _sources "${_file}")
    endif()
  endforeach()
endforeach()

add_library(tutti_containerd_api STATIC ${_sources})
add_library(tutti::containerd_api ALIAS tutti_containerd_api)
target_include_directories(tutti_containerd_api SYSTEM PUBLIC "${_out}")
target_compile_options(tutti_containerd_api PRIVATE -w)
target_link_libraries(tutti_containerd_api PUBLIC gRPC::grpc++ protobuf::libprotobuf)
set_target_properties(tutti_containerd_api PROPERTIES POSITION_INDEPENDENT_CODE ON)
