// The containerd driver's OCI runtime spec against what containerd 1.6 builds for
// `ctr run --net-host` (populateDefaultUnixSpec, WithImageConfig, host
// networking, host hosts and resolv.conf), image config blobs as docker and
// buildkit write them, and /etc/passwd and /etc/group as busybox and alpine ship
// them.

#include "runtime-drivers/containerd/oci_spec.hpp"

#include "protocol/errors.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace tutti::runtime_drivers::containerd {
namespace {

using nlohmann::json;

constexpr const char* default_path =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

container_spec web_spec() {
  container_spec spec;
  spec.name = "web-0";
  spec.image = "docker.io/library/busybox:1";
  return spec;
}

image_config busybox_image() {
  image_config image;
  image.env = {default_path};
  image.cmd = {"sh"};
  return image;
}

runtime_spec_options no_host_files() {
  runtime_spec_options options;
  options.hostname = "n1.example";
  options.cgroups_path = "/tutti/tutti-web-0_n1";
  options.host_files = {};
  return options;
}

json build(const container_spec& spec, const image_config& image,
           const runtime_spec_options& options = no_host_files(), const resolved_user& user = {}) {
  auto text = runtime_spec(spec, image, user, options);
  if (!text) {
    ADD_FAILURE() << protocol::message_of(text.error());
    return json::object();
  }
  return json::parse(*text);
}

const json* mount_at(const json& spec, const std::string& destination) {
  for (const auto& m : spec["mounts"])
    if (m["destination"] == destination)
      return &m;
  return nullptr;
}

json default_capabilities() {
  return {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
          "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
          "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",    "CAP_AUDIT_WRITE"};
}

// ----- the runtime spec ----------------------------------------------------------

TEST(oci_runtime_spec, has_containerds_defaults) {
  auto spec = build(web_spec(), busybox_image());
  EXPECT_EQ(spec["ociVersion"], "1.0.2-dev");
  EXPECT_EQ(spec["root"], json({{"path", "rootfs"}, {"readonly", false}}));
  EXPECT_EQ(spec["hostname"], "n1.example");
  const auto& process = spec["process"];
  EXPECT_EQ(process["terminal"], false);
  EXPECT_EQ(process["noNewPrivileges"], true);
  EXPECT_EQ(process["capabilities"]["bounding"], default_capabilities());
  EXPECT_EQ(process["capabilities"]["effective"], default_capabilities());
  EXPECT_EQ(process["capabilities"]["permitted"], default_capabilities());
  EXPECT_EQ(process["rlimits"],
            json::parse(R"([{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}])"));
  const auto& linux_ = spec["linux"];
  EXPECT_EQ(linux_["cgroupsPath"], "/tutti/tutti-web-0_n1");
  EXPECT_EQ(linux_["resources"]["devices"], json::parse(R"([{"allow": false, "access": "rwm"}])"));
  EXPECT_EQ(linux_["maskedPaths"].size(), 10u);
  EXPECT_EQ(linux_["maskedPaths"][0], "/proc/acpi");
  EXPECT_EQ(linux_["readonlyPaths"],
            json({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
}

TEST(oci_runtime_spec, shares_the_hosts_network_namespace) {
  auto spec = build(web_spec(), busybox_image());
  EXPECT_EQ(
      spec["linux"]["namespaces"],
      json::parse(R"([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}])"));
}

TEST(oci_runtime_spec, mounts_the_default_filesystems) {
  auto spec = build(web_spec(), busybox_image());
  ASSERT_EQ(spec["mounts"].size(), 7u) << "no host file when none is asked for";
  std::vector<std::string> destinations;
  for (const auto& m : spec["mounts"])
    destinations.push_back(m["destination"]);
  EXPECT_EQ(destinations, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm",
                                                    "/dev/mqueue", "/sys", "/run"}));
  EXPECT_EQ((*mount_at(spec, "/proc"))["type"], "proc");
  EXPECT_EQ((*mount_at(spec, "/dev"))["options"],
            json({"nosuid", "strictatime", "mode=755", "size=65536k"}));
  EXPECT_EQ((*mount_at(spec, "/dev/pts"))["options"],
            json({"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
  EXPECT_EQ((*mount_at(spec, "/dev/shm"))["type"], "tmpfs");
  EXPECT_EQ((*mount_at(spec, "/dev/mqueue"))["type"], "mqueue");
  EXPECT_EQ((*mount_at(spec, "/sys"))["type"], "sysfs");
  EXPECT_EQ((*mount_at(spec, "/sys"))["options"].back(), "ro");
  EXPECT_EQ((*mount_at(spec, "/run"))["options"],
            json({"nosuid", "strictatime", "mode=755", "size=65536k"}));
}

TEST(oci_runtime_spec, binds_the_host_files_that_exist) {
  auto dir = std::filesystem::temp_directory_path() /
             ("tutti-oci-spec-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto present = (dir / "resolv.conf").string();
  std::ofstream{present} << "nameserver 127.0.0.53\n";
  auto options = no_host_files();
  options.host_files = {present, (dir / "absent-hosts").string()};
  auto spec = build(web_spec(), busybox_image(), options);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(spec["mounts"].size(), 8u);
  const auto* bind = mount_at(spec, present);
  ASSERT_NE(bind, nullptr);
  EXPECT_EQ((*bind)["type"], "bind");
  EXPECT_EQ((*bind)["source"], present);
  EXPECT_EQ((*bind)["options"], json({"rbind", "ro"}));
  EXPECT_EQ(mount_at(spec, (dir / "absent-hosts").string()), nullptr);
}

TEST(oci_runtime_spec, runs_the_specs_command_in_place_of_the_images_cmd) {
  auto image = busybox_image();
  image.cmd = {"sh"};
  auto spec = web_spec();
  spec.command = {"/bin/httpd", "-f", "-p", "20001"};
  EXPECT_EQ(build(spec, image)["process"]["args"], json({"/bin/httpd", "-f", "-p", "20001"}));
  image.entrypoint = {"/docker-entrypoint.sh"};
  EXPECT_EQ(build(spec, image)["process"]["args"],
            json({"/docker-entrypoint.sh", "/bin/httpd", "-f", "-p", "20001"}));
}

TEST(oci_runtime_spec, runs_the_images_entrypoint_and_cmd_without_a_command) {
  auto image = busybox_image();
  image.entrypoint = {"/docker-entrypoint.sh"};
  image.cmd = {"nginx", "-g", "daemon off;"};
  EXPECT_EQ(build(web_spec(), image)["process"]["args"],
            json({"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"}));
  image.cmd.clear();
  EXPECT_EQ(build(web_spec(), image)["process"]["args"], json({"/docker-entrypoint.sh"}));
}

TEST(oci_runtime_spec, refuses_a_container_without_any_command) {
  image_config image;
  auto text = runtime_spec(web_spec(), image, {}, no_host_files());
  ASSERT_FALSE(text);
  EXPECT_EQ(protocol::code_of(text.error()), protocol::error_code::invalid_argument);
  EXPECT_EQ(protocol::message_of(text.error()),
            "container web-0 has no command: its spec gives none and image "
            "docker.io/library/busybox:1 has no Entrypoint or Cmd");
}

TEST(oci_runtime_spec, merges_the_env_of_the_image_and_the_spec) {
  image_config image;
  image.cmd = {"nginx"};
  image.env = {"PATH=/opt/bin:/usr/bin", "NGINX_VERSION=1.25", "LANG=C"};
  auto spec = web_spec();
  spec.env = {{"PORT", "20001"}, {"LANG", "C.UTF-8"}, {"GREETING", "a=b c"}};
  EXPECT_EQ(build(spec, image)["process"]["env"],
            json({"PATH=/opt/bin:/usr/bin", "NGINX_VERSION=1.25", "LANG=C.UTF-8", "GREETING=a=b c",
                  "PORT=20001"}))
      << "image order, the spec's values winning, new keys after in key order";
}

TEST(oci_runtime_spec, adds_a_path_when_the_image_has_none) {
  image_config image;
  image.cmd = {"app"};
  image.env = {"HOME=/root"};
  EXPECT_EQ(build(web_spec(), image)["process"]["env"], json({"HOME=/root", default_path}));
  image.env.clear();
  EXPECT_EQ(build(web_spec(), image)["process"]["env"], json({default_path}));
  auto spec = web_spec();
  spec.env = {{"PATH", "/app/bin"}};
  EXPECT_EQ(build(spec, image)["process"]["env"], json({"PATH=/app/bin"}));
}

TEST(oci_runtime_spec, works_in_the_images_working_dir) {
  auto image = busybox_image();
  EXPECT_EQ(build(web_spec(), image)["process"]["cwd"], "/");
  image.working_dir = "/srv/app";
  EXPECT_EQ(build(web_spec(), image)["process"]["cwd"], "/srv/app");
}

TEST(oci_runtime_spec, runs_as_the_resolved_user_with_its_primary_group_first) {
  resolved_user user{101, 101, {82, 101, 4}};
  auto spec = build(web_spec(), busybox_image(), no_host_files(), user);
  EXPECT_EQ(spec["process"]["user"],
            json::parse(R"({"uid": 101, "gid": 101, "additionalGids": [101, 82, 4]})"));
  spec = build(web_spec(), busybox_image());
  EXPECT_EQ(spec["process"]["user"], json::parse(R"({"uid": 0, "gid": 0, "additionalGids": [0]})"));
}

TEST(oci_runtime_spec, limits_cpu_and_memory) {
  auto spec = web_spec();
  spec.resources.cpu = 0.25;
  spec.resources.memory = 64 << 20;
  auto resources = build(spec, busybox_image())["linux"]["resources"];
  EXPECT_EQ(resources["cpu"], json::parse(R"({"period": 100000, "quota": 25000})"));
  EXPECT_EQ(resources["memory"], json::parse(R"({"limit": 67108864})"));
  spec.resources.cpu = 2.5;
  EXPECT_EQ(build(spec, busybox_image())["linux"]["resources"]["cpu"]["quota"], 250000);
  spec.resources.cpu = 0.001;
  EXPECT_EQ(build(spec, busybox_image())["linux"]["resources"]["cpu"]["quota"], 1000)
      << "the kernel's minimum quota";
}

TEST(oci_runtime_spec, sets_no_limits_for_zero_resources) {
  auto resources = build(web_spec(), busybox_image())["linux"]["resources"];
  EXPECT_FALSE(resources.contains("cpu"));
  EXPECT_FALSE(resources.contains("memory"));
  EXPECT_TRUE(resources.contains("devices"));
}

TEST(oci_runtime_spec, refuses_text_that_is_not_utf8) {
  auto spec = web_spec();
  spec.env = {{"BROKEN", "\xff\xfe"}};
  auto text = runtime_spec(spec, busybox_image(), {}, no_host_files());
  ASSERT_FALSE(text);
  EXPECT_EQ(protocol::code_of(text.error()), protocol::error_code::invalid_argument);
}

// ----- exec ----------------------------------------------------------------------

TEST(oci_exec_process, runs_the_command_as_the_container_does) {
  auto process = json::parse(
      exec_process({"cat", "/etc/hostname"}, {default_path, "PORT=1"}, {1000, 1000, {10}}, "/srv"));
  EXPECT_EQ(process["args"], json({"cat", "/etc/hostname"}));
  EXPECT_EQ(process["env"], json({default_path, "PORT=1"}));
  EXPECT_EQ(process["cwd"], "/srv");
  EXPECT_EQ(process["user"],
            json::parse(R"({"uid": 1000, "gid": 1000, "additionalGids": [1000, 10]})"));
  EXPECT_EQ(process["terminal"], false);
  EXPECT_EQ(process["noNewPrivileges"], true);
  EXPECT_EQ(process["capabilities"]["bounding"], default_capabilities());
  EXPECT_EQ(json::parse(exec_process({"true"}, {}, {}, ""))["cwd"], "/");
}

// ----- image config --------------------------------------------------------------

TEST(oci_image_config, reads_what_a_container_needs) {
  auto config = parse_image_config(R"({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/bin", "A=b=c"], "Entrypoint": ["/entry.sh"],
               "Cmd": ["nginx", "-g", "daemon off;"], "WorkingDir": "/srv",
               "User": "nginx:nginx", "StopSignal": "SIGQUIT", "ExposedPorts": {"80/tcp": {}}},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:aa", "sha256:bb"]}})");
  ASSERT_TRUE(config) << protocol::message_of(config.error());
  EXPECT_EQ(config->env, (std::vector<std::string>{"PATH=/usr/bin", "A=b=c"}));
  EXPECT_EQ(config->entrypoint, (std::vector<std::string>{"/entry.sh"}));
  EXPECT_EQ(config->cmd, (std::vector<std::string>{"nginx", "-g", "daemon off;"}));
  EXPECT_EQ(config->working_dir, "/srv");
  EXPECT_EQ(config->user, "nginx:nginx");
  EXPECT_EQ(config->stop_signal, "SIGQUIT");
  EXPECT_EQ(config->diff_ids, (std::vector<std::string>{"sha256:aa", "sha256:bb"}));
}

TEST(oci_image_config, takes_missing_and_null_fields_as_empty) {
  for (const char* text :
       {R"({})", R"({"config": null, "rootfs": null})",
        R"({"config": {"Env": null, "Entrypoint": null, "Cmd": null, "WorkingDir": null,
                       "User": null, "StopSignal": null}, "rootfs": {"type": "layers"}})"}) {
    auto config = parse_image_config(text);
    ASSERT_TRUE(config) << text << ": " << protocol::message_of(config.error());
    EXPECT_TRUE(config->env.empty());
    EXPECT_TRUE(config->entrypoint.empty());
    EXPECT_TRUE(config->cmd.empty());
    EXPECT_EQ(config->working_dir, "");
    EXPECT_EQ(config->user, "");
    EXPECT_EQ(config->stop_signal, "");
    EXPECT_TRUE(config->diff_ids.empty());
  }
}

TEST(oci_image_config, names_the_field_that_is_wrong) {
  auto message_for = [](const std::string& text) {
    auto config = parse_image_config(text);
    if (config)
      return std::string{"parsed"};
    EXPECT_EQ(protocol::code_of(config.error()), protocol::error_code::invalid_argument);
    return protocol::message_of(config.error());
  };
  EXPECT_NE(message_for("not json").find("not a JSON object"), std::string::npos);
  EXPECT_NE(message_for("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(message_for(R"({"config": "x"})").find("config"), std::string::npos);
  EXPECT_NE(message_for(R"({"config": {"Env": "A=b"}})").find("config.Env"), std::string::npos);
  EXPECT_NE(message_for(R"({"config": {"Cmd": ["sh", 1]}})").find("config.Cmd"), std::string::npos);
  EXPECT_NE(message_for(R"({"config": {"Entrypoint": {}}})").find("config.Entrypoint"),
            std::string::npos);
  EXPECT_NE(message_for(R"({"config": {"WorkingDir": 3}})").find("config.WorkingDir"),
            std::string::npos);
  EXPECT_NE(message_for(R"({"config": {"User": []}})").find("config.User"), std::string::npos);
  EXPECT_NE(message_for(R"({"config": {"StopSignal": 15}})").find("config.StopSignal"),
            std::string::npos);
  EXPECT_NE(message_for(R"({"rootfs": []})").find("rootfs"), std::string::npos);
  EXPECT_NE(message_for(R"({"rootfs": {"diff_ids": [null]}})").find("rootfs.diff_ids"),
            std::string::npos);
}

// ----- users ---------------------------------------------------------------------

constexpr const char* passwd = "root:x:0:0:root:/root:/bin/sh\n"
                               "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                               "# a comment\n"
                               "\n"
                               "nginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n"
                               "www-data:x:82:82:Linux User,,,:/home/www-data:/sbin/nologin\n";

constexpr const char* group = "root:x:0:root\n"
                              "bin:x:1:root,bin,daemon\n"
                              "adm:x:4:root,adm,daemon\n"
                              "wheel:x:10:root\n"
                              "www-data:x:82:nginx\n"
                              "nginx:x:101:nginx\n"
                              "staff:x:50:\n";

TEST(oci_resolve_user, runs_an_image_without_user_as_root) {
  auto user = resolve_user("", passwd, group);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->uid, 0u);
  EXPECT_EQ(user->gid, 0u);
  EXPECT_EQ(user->additional_gids, (std::vector<uint32_t>{1, 4, 10}))
      << "root's supplementary groups, as containerd gives them";
  user = resolve_user("", "", "");
  ASSERT_TRUE(user) << "an image without /etc/passwd";
  EXPECT_EQ(user->uid, 0u);
  EXPECT_TRUE(user->additional_gids.empty());
}

TEST(oci_resolve_user, looks_up_a_name) {
  auto user = resolve_user("nginx", passwd, group);
  ASSERT_TRUE(user) << protocol::message_of(user.error());
  EXPECT_EQ(user->uid, 101u);
  EXPECT_EQ(user->gid, 101u);
  EXPECT_EQ(user->additional_gids, (std::vector<uint32_t>{82}))
      << "the groups listing nginx, not its own";
  user = resolve_user("daemon", passwd, group);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->uid, 1u);
  EXPECT_EQ(user->additional_gids, (std::vector<uint32_t>{1, 4}));
}

TEST(oci_resolve_user, takes_a_uid_with_its_passwd_group_or_zero) {
  auto user = resolve_user("82", passwd, group);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->uid, 82u);
  EXPECT_EQ(user->gid, 82u);
  EXPECT_TRUE(user->additional_gids.empty());
  user = resolve_user("1000", passwd, group);
  ASSERT_TRUE(user) << "a uid the image does not know still runs";
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_EQ(user->gid, 0u);
  EXPECT_TRUE(user->additional_gids.empty());
  user = resolve_user("101", passwd, group);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->additional_gids, (std::vector<uint32_t>{82}));
}

TEST(oci_resolve_user, takes_uid_and_gid_as_given) {
  auto user = resolve_user("1000:1000", "", "");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_EQ(user->gid, 1000u);
  user = resolve_user("101:50", passwd, group);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->gid, 50u) << "the explicit gid, not the passwd entry's";
}

TEST(oci_resolve_user, looks_up_name_and_group) {
  auto user = resolve_user("nginx:www-data", passwd, group);
  ASSERT_TRUE(user) << protocol::message_of(user.error());
  EXPECT_EQ(user->uid, 101u);
  EXPECT_EQ(user->gid, 82u);
  user = resolve_user("1000:staff", passwd, group);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_EQ(user->gid, 50u);
  user = resolve_user("nginx:7", passwd, group);
  ASSERT_TRUE(user);
  EXPECT_EQ(user->gid, 7u);
}

TEST(oci_resolve_user, refuses_unknown_names) {
  auto user = resolve_user("postgres", passwd, group);
  ASSERT_FALSE(user);
  EXPECT_EQ(protocol::code_of(user.error()), protocol::error_code::invalid_argument);
  EXPECT_EQ(protocol::message_of(user.error()),
            "user 'postgres' is not in the image's /etc/passwd");
  user = resolve_user("nginx", "", "");
  ASSERT_FALSE(user) << "no /etc/passwd at all";
  user = resolve_user("nginx:postgres", passwd, group);
  ASSERT_FALSE(user);
  EXPECT_EQ(protocol::message_of(user.error()),
            "group 'postgres' is not in the image's /etc/group");
  user = resolve_user("a:b:c", passwd, group);
  ASSERT_FALSE(user);
  EXPECT_EQ(protocol::code_of(user.error()), protocol::error_code::invalid_argument);
}

} // namespace
} // namespace tutti::runtime_drivers::containerd
