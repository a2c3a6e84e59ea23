#pragma once

// Each benchmark adds its subcommand to tutti-bench here.

#include <CLI/CLI.hpp>

namespace tutti::bench {

/// `tutti-bench dev`: the single-host cluster with the process driver.
void add_dev_bench(CLI::App& app);

} // namespace tutti::bench
