#pragma once

// Files built into the binary (cmake/EmbedFiles.cmake), by base name.

#include <map>
#include <string>
#include <string_view>

namespace tutti {

using embedded_files = std::map<std::string, std::string_view, std::less<>>;

/// The dashboard's files (actors/api/ui/).
const embedded_files& dashboard_files();

} // namespace tutti
