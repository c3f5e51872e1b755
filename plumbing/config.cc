#include "plumbing/config.h"

#include "plumbing/error.h"
#include "plumbing/git.h"
#include "plumbing/fs.h"

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

namespace {

struct OneFile {
	git_config *c = nullptr;
	explicit OneFile(const std::string &path, bool create)
	{
		git_libgit2_init();
		if (create) {
			std::string dir = path.substr(0, path.rfind('/'));
			if (!dir.empty())
				mkdir_p(dir);
		}
		if (git_config_open_ondisk(&c, path.c_str()) < 0)
			die("bad config file '{}': {}", path, git_error_last() ? git_error_last()->message : "?");
	}
	~OneFile() { git_config_free(c); }
};

} // namespace

std::vector<std::pair<std::string, std::string>> config_list_file(const std::string &path)
{
	std::vector<std::pair<std::string, std::string>> out;
	if (!exists(path))
		return out;
	OneFile f(path, false);
	git_config_iterator *it = nullptr;
	if (git_config_iterator_new(&it, f.c) < 0)
		return out;
	git_config_entry *e;
	while (git_config_next(&e, it) == 0)
		out.push_back({e->name, e->value ? e->value : ""});
	git_config_iterator_free(it);
	return out;
}

void config_set_file(const std::string &path, const std::string &key, const std::string &value)
{
	OneFile f(path, true);
	if (git_config_set_string(f.c, key.c_str(), value.c_str()) < 0)
		die("cannot set '{}': {}", key, git_error_last() ? git_error_last()->message : "?");
}

bool config_unset_file(const std::string &path, const std::string &key)
{
	if (!exists(path))
		return false;
	OneFile f(path, false);
	return git_config_delete_entry(f.c, key.c_str()) == 0;
}

} // namespace pach
