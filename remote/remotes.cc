#include "remote/remotes.h"
#include "plumbing/quote.h"

#include "plumbing/address.h"
#include "plumbing/config.h"
#include "plumbing/error.h"

#include <algorithm>

namespace pach::remote {

namespace {

// The store's own config file (remotes are per store, never the user's).
struct Config {
	std::string path;
	std::vector<std::pair<std::string, std::string>> entries;
	explicit Config(Store &s) : path(s.path("config")), entries(config_list_file(path)) {}
	std::string get(const std::string &key) const
	{
		std::string v;
		for (auto &[k, val] : entries)
			if (k == key)
				v = val;   // the last one wins, as in git
		return v;
	}
	void set(const std::string &key, const std::string &v) { config_set_file(path, key, v); }
	void unset(const std::string &key) { config_unset_file(path, key); }
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
	for (auto &[k, v] : cfg.entries)   // pach-remote.<name>.url
		if (k.size() > 16 && k.compare(0, 12, "pach-remote.") == 0 && k.compare(k.size() - 4, 4, ".url") == 0 &&
		    std::find(names.begin(), names.end(), k.substr(12, k.size() - 16)) == names.end())
			names.push_back(k.substr(12, k.size() - 16));
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
		cfg.unset("pach-remote." + name + "." + k);
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
