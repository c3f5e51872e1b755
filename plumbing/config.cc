#include "plumbing/config.h"

#include "plumbing/error.h"

#include <git2.h>
#include <sys/stat.h>

#include <cstdlib>

namespace pach {

std::string user_config_path()
{
	if (const char *x = getenv("XDG_CONFIG_HOME"); x && *x)
		return std::string(x) + "/pach/config";
	if (const char *h = getenv("HOME"); h && *h)
		return std::string(h) + "/.config/pach/config";
	return "";
}

static bool exists(const std::string &p)
{
	struct stat st;
	return !p.empty() && ::stat(p.c_str(), &st) == 0;
}

std::optional<std::string> config_get(const Store *s, const std::string &key)
{
	git_libgit2_init();
	git_config *cfg = nullptr;
	if (git_config_new(&cfg) < 0)
		die("unable to read configuration");
	auto add = [&](const std::string &path, git_config_level_t level) {
		if (exists(path) && git_config_add_file_ondisk(cfg, path.c_str(), level, nullptr, 0) < 0) {
			const git_error *e = git_error_last();
			std::string msg = e ? e->message : "unknown error";
			git_config_free(cfg);
			die("bad config file '{}': {}", path, msg);
		}
	};
	add(user_config_path(), GIT_CONFIG_LEVEL_GLOBAL);
	if (s)
		add(s->path("config"), GIT_CONFIG_LEVEL_LOCAL);
	git_buf buf = GIT_BUF_INIT;
	std::optional<std::string> out;
	if (git_config_get_string_buf(&buf, cfg, key.c_str()) == 0)
		out = std::string(buf.ptr, buf.size);
	git_buf_dispose(&buf);
	git_config_free(cfg);
	return out;
}

} // namespace pach
