#include "cmd/cmd.h"
#include "porcelain/commit.h"

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
	"name.  '-' reads standard input into <file>.\n\n"
	"    -a, --append             add to the end of <file> (or, with --split,\n"
	"                             keep the pieces already in <dir>)\n"
	"    --split <kind>           line, json, csv or sql: <dir> gets one file per\n"
	"                             record (or per --target-file-* worth), named\n"
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
	print_commit_result(args, porcelain::put_paths(args.store(), a, srcs, o));
	return 0;
}

} // namespace pach::cmd
