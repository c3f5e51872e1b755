#include "cmd/cmd.h"
#include "plumbing/fs.h"
#include "plumbing/tree.h"
#include "porcelain/commit.h"
#include "remote/fetch.h"

#include <fcntl.h>


namespace pach::cmd {

void print_commit_result(Args &args, const porcelain::CommitResult &r);

extern const char *const kUsage_put =
	"usage: pach put <repo>[@<branch>][:/<path>] <src>... [-m <msg>] [--json]\n"
	"   or: pach put <repo>[@<branch>]:/<file> - [-m <msg>] [--json]\n"
	"   or: pach put <repo>[@<branch>]:/<file> (<src> | -) --append [-m <msg>] [--json]\n"
	"   or: pach put <repo>[@<branch>]:/<dir> (<src> | -) --split <kind> [--target-file-datums <n>]\n"
	"                [--target-file-bytes <n>] [--header-records <n>] [--append] [-m <msg>] [--json]\n\n"
	"Add or overwrite files and directories (never deletes), in one commit.\n"
	"One directory source is merged into <path>; one file source is stored at\n"
	"<path>, or inside it when <path> is an existing directory.  With several\n"
	"sources, or a <path> ending in '/', each goes into <path> under its own\n"
	"name.  '-' reads standard input into <file>.  A <src> may be an http(s)\n"
	"URL or an S3 object (s3://bucket/key).\n\n"
	"    -a, --append             add to the end of <file> (or, with --split,\n"
	"                             keep the pieces already in <dir>)\n"
	"    --split <kind>           line, json, csv or sql: <dir> gets one file per\n"
	"                             record (or as many as the targets allow), named\n"
	"                             0000000000000000, 0000000000000001, ...\n"
	"    --target-file-datums <n> records per piece\n"
	"    --target-file-bytes <n>  a piece ends once it holds n bytes\n"
	"    --header-records <n>     the first n records top every piece\n";

int cmd_put(Args &args)
{
	porcelain::CommitOptions o;
	o.message = args.value('m', "message").value_or("");
	o.jobs = args.int_value('j', "jobs", 0);
	o.append = args.flag('a', "append");
	o.split.mode = args.value(0, "split").value_or("");
	if (!o.split.mode.empty() && o.split.mode != "line" && o.split.mode != "json" && o.split.mode != "csv" &&
	    o.split.mode != "sql")
		args.usage_error("unknown --split '" + o.split.mode + "' (expected line, json, csv or sql)");
	auto count = [&](const char *name) -> uint64_t {
		auto v = args.value(0, name);
		if (!v)
			return 0;
		char *end = nullptr;
		errno = 0;
		unsigned long long n = strtoull(v->c_str(), &end, 10);
		if (v->empty() || !isdigit((unsigned char)(*v)[0]) || *end || errno)
			args.usage_error(fmt::format("--{} takes a count, not '{}'", name, *v));
		if (o.split.mode.empty())
			args.usage_error(fmt::format("--{} needs --split", name));
		return n;
	};
	o.split.target_datums = count("target-file-datums");
	o.split.target_bytes = count("target-file-bytes");
	o.split.header_records = count("header-records");
	if (o.split.header_records && o.split.mode == "sql")
		args.usage_error("--header-records is for line, json and csv (a pg_dump brings its own header)");
	auto r = args.rest(2);
	Address a = parse_address(r[0]);
	std::vector<std::string> srcs(r.begin() + 1, r.end());
	// URLs and S3 objects are fetched first, each into a file named as
	// the address ends, in a directory of the store's that goes after.
	struct Fetched {
		std::string dir;
		~Fetched()
		{
			if (!dir.empty())
				remove_tree(dir);
		}
	} fetched;
	for (auto &src : srcs) {
		if (!remote::is_fetchable(src))
			continue;
		std::string name = remote::fetch_name(src);
		if (name.empty() && (srcs.size() > 1 || a.path.empty() || a.trailing_slash))
			die("'{}' names no file: give the path to store it at ({}:/path/to/file)", src, a.repo);
		if (!name.empty() && !valid_tree_name(name))
			die("'{}': cannot store it under the name '{}'", src, name);
		if (fetched.dir.empty()) {
			mkdir_p(args.store().path("pach/tmp"));
			std::string t = args.store().path("pach/tmp/fetch-XXXXXX");
			if (!mkdtemp(t.data()))
				die_errno("unable to create a directory in '" + args.store().path("pach/tmp") + "'");
			fetched.dir = t;
		}
		std::string sub = fetched.dir + "/" + std::to_string(&src - &srcs[0]);
		mkdir_p(sub);
		std::string file = sub + "/" + (name.empty() ? "download" : name);
		Fd f(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
		if (!f)
			die_errno("unable to create '" + file + "'");
		remote::fetch_to(src, f.get());
		src = file;
	}
	print_commit_result(args, porcelain::put_paths(args.store(), a, srcs, o));
	return 0;
}

} // namespace pach::cmd
