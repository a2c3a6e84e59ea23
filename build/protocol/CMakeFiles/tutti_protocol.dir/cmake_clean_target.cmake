file(REMOVE_RECURSE
  "libtutti_protocol.a"
)
