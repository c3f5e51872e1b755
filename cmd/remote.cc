#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "plumbing/quote.h"
#include "plumbing/config.h"
#include "plumbing/fs.h"
#include "plumbing/progress.h"
#include "plumbing/meta.h"
#include "remote/remotes.h"
#include "remote/s3.h"
#include "remote/sync.h"

#include <unistd.h>


namespace pach::cmd {

using remote::RefUpdate;
using remote::RemoteConfig;
using remote::TransferStats;

extern const char *const kUsage_remote =
	"usage: pach remote add <name> <url> [--endpoint <url>] [--region <r>] [--path-style]\n"
	"   or: pach remote list [--json]\n"
	"   or: pach remote show <name> [--json]\n"
	"   or: pach remote remove <name>\n\n"
	"URLs: s3://bucket/prefix (S3 or any S3-compatible server) and file:///path\n"
	"(a directory, e.g. on a shared disk).\n";

extern const char *const kUsage_push =
	"usage: pach push [<remote>] [<repo>[@<branch>]...] [--all] [--force] [--json]\n\n"
	"Send branches (default: every branch) and the metadata (repos, pipeline\n"
	"specs, job records) to a remote; only objects it lacks are sent.  A branch\n"
	"the remote moved meanwhile is refused: fetch first, or --force.\n";

extern const char *const kUsage_fetch =
	"usage: pach fetch [<remote>] [--json]\n\n"
	"Get the remote's branches and metadata into refs/pach/remotes/<remote>/,\n"
	"every object verified first.  Local branches do not move.\n";

extern const char *const kUsage_pull =
	"usage: pach pull [<remote>] [<repo>[@<branch>]...] [--force] [--json]\n\n"
	"fetch, then fast-forward local branches to the remote's and merge the\n"
	"metadata.  A diverged branch is refused unless --force (which takes the\n"
	"remote's).\n";

extern const char *const kUsage_clone =
	"usage: pach clone <url> [<dir>] [--endpoint <url>] [--region <r>] [--path-style]\n\n"
	"Create a store in <dir> (default: the URL's last component) with the\n"
	"remote 'origin' and every branch of it.\n";

static std::optional<std::string> hex_or_null(const std::optional<Oid> &o)
{
	return o ? std::optional<std::string>(o->hex()) : std::nullopt;
}

// git's summary lines: " * [new]", "   a..b", " + a...b (forced)", " ! [rejected]".
static void print_updates(const std::vector<RefUpdate> &ups, const std::string &to, bool show_up_to_date)
{
	for (auto &u : ups) {
		std::string label = remote::ref_label(u.ref);
		std::string o = u.old_oid ? u.old_oid->hex().substr(0, 12) : "", n = u.new_oid ? u.new_oid->hex().substr(0, 12) : "";
		if (u.status == "created")
			fmt::print(" * [new]          {} -> {}\n", label, to + label);
		else if (u.status == "updated")
			fmt::print("   {}..{}  {}\n", o, n, label);
		else if (u.status == "forced")
			fmt::print(" + {}...{} {} (forced)\n", o, n, label);
		else if (u.status == "merged")
			fmt::print("   merged         {}\n", label);
		else if (u.status == "deleted")
			fmt::print(" - [deleted]      {}\n", label);
		else if (u.status == "rejected")
			fmt::print(" ! [rejected]     {} ({})\n", label, u.reason);
		else if (show_up_to_date)
			fmt::print(" = [up to date]   {}\n", label);
	}
}

// A remote's settings, credentials redacted.
static Json &remote_json(Json &o, const RemoteConfig &c)
{
	return o.field("name", c.name).field("url", redact_url(c.url)).field("endpoint", redact_url(c.endpoint))
		.field("region", c.region).field("path_style", c.path_style);
}

static void print_json(const RemoteConfig &rc, const TransferStats &st, const std::vector<RefUpdate> &ups)
{
	Json o;
	o.begin_object().field("remote", rc.name).field("packs", (uint64_t)st.packs).field("bytes", (uint64_t)st.bytes);
	o.field("requests", (uint64_t)st.requests).key("refs").begin_array();
	for (auto &u : ups) {
		o.begin_object().field("ref", u.ref).field("label", remote::ref_label(u.ref));
		o.field("old", hex_or_null(u.old_oid)).field("new", hex_or_null(u.new_oid)).field("status", u.status);
		if (!u.reason.empty())
			o.field("reason", u.reason);
		o.end_object();
	}
	fmt::print("{}\n", o.end_array().end_object().text());
}

static bool any_status(const std::vector<RefUpdate> &ups, bool rejected)
{
	return std::any_of(ups.begin(), ups.end(),
			   [&](auto &u) { return rejected ? u.status == "rejected" : u.status != "up-to-date"; });
}

static RemoteConfig config_from(Args &args, const std::string &name, const std::string &url)
{
	RemoteConfig c;
	c.name = name;
	c.url = url;
	c.endpoint = args.value(0, "endpoint").value_or("");
	c.region = args.value(0, "region").value_or("");
	c.path_style = args.flag(0, "path-style");
	return c;
}

int cmd_remote(Args &args)
{
	RemoteConfig opts = config_from(args, "", "");
	auto r = args.rest(1, 3);
	Store &s = args.store();
	if (r[0] == "add") {
		if (r.size() != 3)
			args.usage_error("'remote add' takes a name and a URL");
		opts.name = r[1];
		opts.url = r[2];
		remote::remote_add(s, opts);
		return 0;
	}
	if (!opts.endpoint.empty() || !opts.region.empty() || opts.path_style)
		args.usage_error("--endpoint, --region and --path-style go with 'remote add'");
	if (r[0] == "list") {
		auto all = remote::remote_list(s);
		if (args.json) {
			Json o;
			o.begin_array();
			for (auto &c : all)
				remote_json(o.begin_object(), c).end_object();
			fmt::print("{}\n", o.end_array().text());
			return 0;
		}
		for (auto &c : all)
			fmt::print("{}\t{}\n", c.name, quote_path(redact_url(c.url)));
		return 0;
	}
	if (r[0] == "remove" || r[0] == "rm") {
		if (r.size() != 2)
			args.usage_error("'remote remove' takes a name");
		remote::remote_remove(s, r[1]);
		return 0;
	}
	if (r[0] == "show") {
		if (r.size() != 2)
			args.usage_error("'remote show' takes a name");
		auto c = remote::remote_get(s, r[1]);
		if (!c)
			die("no such remote: '{}'", r[1]);
		auto refs = s.refs("refs/pach/remotes/" + c->name + "/");
		if (args.json) {
			Json o;
			remote_json(o.begin_object(), *c).key("refs").begin_array();
			for (auto &[ref, oid] : refs)
				o.begin_object().field("ref", "refs/" + ref.substr(19 + c->name.size())).field("oid", oid.hex()).end_object();
			fmt::print("{}\n", o.end_array().end_object().text());
			return 0;
		}
		fmt::print("remote {}\n  URL: {}\n", c->name, quote_path(redact_url(c->url)));
		if (!c->endpoint.empty())
			fmt::print("  Endpoint: {}\n", quote_path(redact_url(c->endpoint)));
		if (!c->region.empty())
			fmt::print("  Region: {}\n", c->region);
		if (c->path_style)
			fmt::print("  Path-style addressing\n");
		fmt::print("  Last fetched or pushed:\n");
		for (auto &[ref, oid] : refs)
			fmt::print("    {:<32} {}\n", remote::ref_label("refs/" + ref.substr(19 + c->name.size())), short_oid(oid));
		return 0;
	}
	args.usage_error("unknown subcommand '" + r[0] + "'");
}

// The first positional is a remote when such a remote exists.
static std::string take_remote(Store &s, std::vector<std::string> &r)
{
	if (!r.empty() && remote::remote_get(s, r[0])) {
		std::string n = r[0];
		r.erase(r.begin());
		return n;
	}
	return "";
}

int cmd_push(Args &args)
{
	remote::PushOptions o;
	o.force = args.flag('f', "force");
	bool all = args.flag(0, "all");
	auto r = args.rest(0);
	Store &s = args.store();
	auto rc = remote::remote_pick(s, take_remote(s, r));
	if (all && !r.empty())
		args.usage_error("--all and branches do not go together");
	o.what = r;
	TransferStats st;
	auto ups = remote::push(s, rc, o, st);
	bool rejected = any_status(ups, true);
	if (args.json) {
		print_json(rc, st, ups);
	} else {
		if (!any_status(ups, false))
			fmt::print("Everything up to date\n");
		else {
			fmt::print("To {}\n", quote_path(redact_url(rc.url)));
			print_updates(ups, "", false);
		}
	}
	if (rejected) {
		fmt::print(stderr, "error: failed to push some branches to '{}'\n"
				   "hint: the remote has commits you do not have: 'pach pull {}' first, or push --force\n",
			   rc.url, rc.name);
		return 1;
	}
	return 0;
}

int cmd_fetch(Args &args)
{
	auto r = args.rest(0, 1);
	Store &s = args.store();
	auto rc = remote::remote_pick(s, r.empty() ? "" : r[0]);
	TransferStats st;
	auto ups = remote::fetch(s, rc, st);
	if (args.json) {
		print_json(rc, st, ups);
		return 0;
	}
	if (any_status(ups, false)) {
		fmt::print("From {}\n", quote_path(redact_url(rc.url)));
		print_updates(ups, rc.name + "/", false);
	}
	return 0;
}

int cmd_pull(Args &args)
{
	remote::PullOptions o;
	o.force = args.flag('f', "force");
	auto r = args.rest(0);
	Store &s = args.store();
	auto rc = remote::remote_pick(s, take_remote(s, r));
	o.what = r;
	TransferStats st;
	auto ups = remote::pull(s, rc, o, st);
	bool rejected = any_status(ups, true);
	if (args.json) {
		print_json(rc, st, ups);
	} else {
		if (!any_status(ups, false))
			fmt::print("Already up to date.\n");
		else
			print_updates(ups, "", false);
	}
	if (rejected) {
		for (auto &u : ups)
			if (u.status == "rejected")
				fmt::print(stderr,
					   "error: '{}' has diverged from the remote's; nothing was changed for it "
					   "(pach pull --force {} {} takes the remote's)\n",
					   remote::ref_label(u.ref), rc.name, remote::ref_label(u.ref));
		return 1;
	}
	return 0;
}

int cmd_clone(Args &args)
{
	RemoteConfig c = config_from(args, "origin", "");
	c.tuning = remote::remote_tuning(nullptr);   // the user's defaults: there is no store yet
	auto r = args.rest(1, 2);
	c.url = r[0];
	auto res = remote::clone(c, r.size() == 2 ? r[1] : "");
	size_t snapshots = res.snapshots;
	fmt::print("Cloned {} into {} ({} branches{}, {} in {} packs)\n", c.url, res.dir, res.branches,
		   snapshots ? fmt::format(", {} snapshot{}", snapshots, snapshots == 1 ? "" : "s") : "",
		   human_bytes(res.stats.bytes), res.stats.packs);
	return 0;
}

} // namespace pach::cmd
