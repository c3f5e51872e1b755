#include "cmd/cmd.h"
#include "plumbing/json.h"
#include "remote/backend.h"
#include "runner/engine.h"
#include "runner/worker.h"

namespace pach::cmd {

extern const char *const kUsage_worker =
	"usage: pach worker --url <url> --key <job key> (--task <n> | --task-list <ranges>)\n"
	"                   [--endpoint <url>] [--region <r>] [--path-style] [--jobs <n>]\n"
	"                   [--cache <dir>] [--in-container] [--json]\n"
	"   or: pach worker --install <bundle> <dir>\n\n"
	"Run task <n> of a job a coordinator (pach run --executor slurm|kubernetes)\n"
	"left on the remote <url>: fetch the objects its datums read, run them, send\n"
	"back the outputs and the result.  Needs no store.\n\n"
	"    --url <url>        the remote (s3://bucket/prefix or file:///dir)\n"
	"    --key <job key>    the job's key on the remote (40 hex digits)\n"
	"    --task <n>         the task's index\n"
	"    --task-list <ranges>  the task is entry $JOB_COMPLETION_INDEX of <ranges>\n"
	"                       (\"0-9,12\"; a Kubernetes Indexed Job)\n"
	"    --in-container     run inside the pipeline's own container (a pod): each\n"
	"                       datum at /pfs itself, user code a child of the worker\n"
	"    --install <bundle> <dir>  copy a pach bundle (bin/, lib/) into <dir>: the\n"
	"                       init container of a Kubernetes pod\n"
	"    --endpoint <url>, --region <r>, --path-style   as for pach remote add\n"
	"    -j, --jobs <n>     datums at once (default 1)\n"
	"    --cache <dir>      the node's cache (default $PACH_WORKER_CACHE, else\n"
	"                       ~/.cache/pach/worker)\n"
	"    --json             what was done, machine-readable\n";

int cmd_worker(Args &args)
{
	runner::WorkerOptions o;
	if (args.flag(0, "install")) {
		auto dirs = args.rest(2, 2);
		runner::install_bundle(dirs[0], dirs[1]);
		return 0;
	}
	auto url = args.value(0, "url");
	auto key = args.value(0, "key");
	auto task = args.value(0, "task");
	auto list = args.value(0, "task-list");
	o.in_container = args.flag(0, "in-container");
	o.remote.endpoint = args.value(0, "endpoint").value_or("");
	o.remote.region = args.value(0, "region").value_or("");
	o.remote.path_style = args.flag(0, "path-style");
	o.jobs = args.int_value('j', "jobs", 1);
	o.cache = args.value(0, "cache").value_or(runner::default_worker_cache());
	args.rest(0, 0);
	if (!url || !key || !task == !list)
		args.usage_error("--url, --key and one of --task and --task-list are required");
	if (list) {
		// A Kubernetes Indexed Job: the pod's index picks the task.
		auto tasks = runner::parse_ranges(*list, 1u << 24);
		if (!tasks || tasks->empty())
			args.usage_error("--task-list expects ranges of task indices (0-9,12), not '" + *list + "'");
		const char *ix = getenv("JOB_COMPLETION_INDEX");
		std::string i = ix ? ix : "";
		if (i.empty() || i.size() > 9 || i.find_first_not_of("0123456789") != std::string::npos ||
		    std::stoul(i) >= tasks->size())
			die("worker: --task-list needs JOB_COMPLETION_INDEX below {} (it is '{}')", tasks->size(), i);
		task = std::to_string((*tasks)[std::stoul(i)]);
	}
	if (task->empty() || task->size() > 9 || task->find_first_not_of("0123456789") != std::string::npos)
		args.usage_error("--task expects a task index, not '" + *task + "'");
	if (std::string why = remote::check_url(*url); !why.empty())
		die("{}", why);
	o.remote.name = "worker";
	o.remote.url = *url;
	o.remote.tuning = remote::remote_tuning(nullptr);
	o.key = *key;
	o.task = std::stoul(*task);
	auto r = runner::run_worker(o);
	if (args.json) {
		Json j;
		j.begin_object().field("task", (uint64_t)o.task).field("already_done", r.already_done);
		j.field("datums", (uint64_t)r.datums).field("failed", (uint64_t)r.failed);
		j.field("fetched_bytes", r.fetched_bytes).field("fetched_objects", r.fetched_objects);
		j.field("idx_bytes", r.idx_bytes).field("uploaded_bytes", r.uploaded_bytes).end_object();
		fmt::print("{}\n", j.text());
	} else if (r.already_done) {
		fmt::print("task {}: already done\n", o.task);
	} else {
		fmt::print("task {}: {} datums, {} failed; fetched {} objects ({} bytes), sent {} bytes\n", o.task,
			   r.datums, r.failed, r.fetched_objects, r.fetched_bytes, r.uploaded_bytes);
	}
	return 0;
}

} // namespace pach::cmd
