# Empty dependencies file for tutti_protocol.
# This may be replaced when dependencies are built.
