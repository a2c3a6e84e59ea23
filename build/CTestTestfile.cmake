# CMake generated Testfile for 
# Source directory: /work/main
# Build directory: /work/main/build
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("protocol")
subdirs("config")
subdirs("persistence")
subdirs("runtime-drivers")
subdirs("metrics")
subdirs("actors")
subdirs("tools")
subdirs("tests")
