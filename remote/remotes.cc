#include "remote/remotes.h"
#include "plumbing/quote.h"

#include "plumbing/address.h"
#include "plumbing/error.h"

#include <git2.h>

namespace pach::remote {

namespace {

struct Config {
	git_config *c = nullptr;
	explicit Config(Store &s)
	{
		if (git_repository_config(&c, s.repo()) < 0)
			die("unable to read the store's config: {}", git_error_last() ? git_error_last()->message : "?");
	}
	~Config() { git_config_free(c); }
	std::string get(const std::string &key) const
	{
		git_buf b = GIT_BUF_INIT;
		std::string v;
		if (git_config_get_string_buf(&b, c, key.c_str()) == 0)
			v.assign(b.ptr, b.size);
		git_buf_dispose(&b);
		return v;
	}
	void set(const std::string &key, const std::string &v)
	{
		if (git_config_set_string(c, key.c_str(), v.c_str()) < 0)
			die("unable to write the store's config: {}", git_error_last() ? git_error_last()->message : "?");
	}
};

bool valid_name(const std::string &n)
{
	if (n.empty() || n.size() > 64)
		return false;
	for (char c : n)
		if (!(isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.'))
			return false;
	return n[0] != '.' && n[0] != '-';
}

} // namespace

std::vector<RemoteConfig> remote_list(Store &s)
{
	Config cfg(s);
	std::vector<std::string> names;
	git_config_iterator *it = nullptr;
	if (git_config_iterator_glob_new(&it, cfg.c, "^pach-remote\\..*\\.url$") == 0) {
		git_config_entry *e;
		while (git_config_next(&e, it) == 0) {
			std::string k = e->name;   // pach-remote.<name>.url
			names.push_back(k.substr(12, k.size() - 12 - 4));
		}
		git_config_iterator_free(it);
	}
	std::vector<RemoteConfig> out;
	for (auto &n : names)
		if (auto r = remote_get(s, n))
			out.push_back(*r);
	std::sort(out.begin(), out.end(), [](auto &a, auto &b) { return a.name < b.name; });
	return out;
}

std::optional<RemoteConfig> remote_get(Store &s, const std::string &name)
{
	if (!valid_name(name))
		return std::nullopt;
	Config cfg(s);
	std::string base = "pach-remote." + name + ".";
	RemoteConfig r;
	r.name = name;
	r.url = cfg.get(base + "url");
	if (r.url.empty())
		return std::nullopt;
	r.endpoint = cfg.get(base + "endpoint");
	r.region = cfg.get(base + "region");
	r.path_style = cfg.get(base + "pathstyle") == "true";
	r.tuning = remote_tuning(&s);
	return r;
}

void remote_add(Store &s, const RemoteConfig &c)
{
	if (!valid_name(c.name))
		die("'{}' is not a valid remote name (letters, digits, '-', '_', '.')", quote_path(c.name));
	std::string bad = check_url(c.url);
	if (!bad.empty())
		die("{}", bad);
	if (url_has_credentials(c.endpoint))
		die("credentials in the endpoint URL are not accepted (use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
	if (!c.endpoint.empty() && c.endpoint.compare(0, 7, "http://") != 0 && c.endpoint.compare(0, 8, "https://") != 0)
		die("bad endpoint '{}' (expected http://host[:port] or https://host)", quote_path(c.endpoint));
	if (remote_get(s, c.name))
		die("remote '{}' already exists", c.name);
	Config cfg(s);
	std::string base = "pach-remote." + c.name + ".";
	cfg.set(base + "url", c.url);
	if (!c.endpoint.empty())
		cfg.set(base + "endpoint", c.endpoint);
	if (!c.region.empty())
		cfg.set(base + "region", c.region);
	if (c.path_style)
		cfg.set(base + "pathstyle", "true");
}

void remote_remove(Store &s, const std::string &name)
{
	if (!remote_get(s, name))
		die("no such remote: '{}'", name);
	Config cfg(s);
	for (const char *k : {"url", "endpoint", "region", "pathstyle"}) {
		std::string key = "pach-remote." + name + "." + k;
		git_config_delete_entry(cfg.c, key.c_str());
	}
	// Its tracking refs go with it.
	for (auto &[ref, oid] : s.refs("refs/pach/remotes/" + name + "/"))
		s.delete_ref(ref, oid);
}

RemoteConfig remote_pick(Store &s, const std::string &name)
{
	if (!name.empty()) {
		auto r = remote_get(s, name);
		if (!r)
			die("no such remote: '{}' (see 'pach remote list')", name);
		return *r;
	}
	if (auto r = remote_get(s, "origin"))
		return *r;
	auto all = remote_list(s);
	if (all.size() == 1)
		return all[0];
	if (all.empty())
		die("no remote configured (pach remote add NAME URL)");
	die("several remotes and none is 'origin': name one");
}

} // namespace pach::remote
