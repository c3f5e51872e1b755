#!/usr/bin/python3
# A one-machine stand-in for a Kubernetes cluster, behind the kubectl
# commands pach's Kubernetes executor runs (no cluster can run here).
# What is real and what is not:
#
#  - The pods are real containers: each container of a pod runs under
#    bwrap in the root filesystem of its image (KUBE_EMU_IMAGES maps image
#    references to unpacked root filesystems), with the pod's emptyDir
#    volumes bind-mounted where the manifest says, the manifest's command,
#    env and envFrom (Secrets applied before), workingDir and
#    JOB_COMPLETION_INDEX.  So the manifests' commands, paths and
#    variables are what is tested: the init container copies the worker
#    out of the worker image, the pipeline's image runs it.
#  - The Job controller is ours: Indexed completions with parallelism,
#    backoffLimitPerIndex, completedIndexes / failedIndexes, the
#    Complete / Failed conditions; an image it does not know leaves the pod
#    waiting in ErrImagePull, as a kubelet would.
#  - `get -o jsonpath=...` is evaluated by the real kubectl (offline, with
#    `set env --local`) on the Job and Pod objects this builds, so pach's
#    jsonpath expressions are checked by kubectl's own engine.
#
# State lives in $KUBE_EMU_DIR.  Every call is logged there (calls.log).
import json, os, signal, subprocess, sys, time, yaml

STATE = os.environ["KUBE_EMU_DIR"]
REAL_KUBECTL = os.environ.get("KUBE_EMU_KUBECTL", "/usr/bin/kubectl")


def images():
    m = {}
    for part in os.environ.get("KUBE_EMU_IMAGES", "").split(";"):
        if "=" in part:
            ref, root = part.split("=", 1)
            m[ref] = root
    return m


def path(*p):
    return os.path.join(STATE, *p)


def load(p, default=None):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def save(p, obj):
    tmp = p + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, p)


def ranges(ix):
    out, i = [], 0
    ix = sorted(ix)
    while i < len(ix):
        j = i
        while j + 1 < len(ix) and ix[j + 1] == ix[j] + 1:
            j += 1
        out.append(str(ix[i]) if i == j else "%d-%d" % (ix[i], ix[j]))
        i = j + 1
    return ",".join(out)


def run_container(c, pod_dir, index, volumes, name):
    """Runs one container of a pod; returns (terminated state) or a waiting reason."""
    root = images().get(c["image"])
    if root is None:
        return {"waiting": {"reason": "ErrImagePull", "message": "image not known to the emulator"}}
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "JOB_COMPLETION_INDEX": str(index), "HOSTNAME": name}
    for ef in c.get("envFrom", []):
        sec = load(path("secrets", ef["secretRef"]["name"] + ".json"))
        if sec is None:
            return {"waiting": {"reason": "CreateContainerConfigError", "message": "secret not found"}}
        env.update(sec.get("stringData", {}))
    for e in c.get("env", []):
        env[e["name"]] = e["value"]
    for d in ("dev", "proc", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    argv = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--ro-bind", root, "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for vm in c.get("volumeMounts", []):
        os.makedirs(root + vm["mountPath"], exist_ok=True)
        argv += ["--ro-bind" if vm.get("readOnly") else "--bind", volumes[vm["name"]], vm["mountPath"]]
    argv += ["--clearenv"]
    for k, v in env.items():
        argv += ["--setenv", k, v]
    argv += ["--chdir", c.get("workingDir", "/"), "--"] + c["command"]
    with open(os.path.join(pod_dir, c["name"] + ".log"), "ab") as log:
        code = subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    return {"terminated": {"reason": "Completed" if code == 0 else "Error", "exitCode": code}}


def run_pod(job, index, attempt):
    spec = job["spec"]["template"]["spec"]
    name = "%s-%d-%d" % (job["metadata"]["name"], index, attempt)
    pod_dir = path("pods", name)
    os.makedirs(pod_dir, exist_ok=True)
    volumes = {}
    for v in spec.get("volumes", []):
        if "emptyDir" in v:
            volumes[v["name"]] = os.path.join(pod_dir, "vol-" + v["name"])
            os.makedirs(volumes[v["name"]], exist_ok=True)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name,
                        "labels": dict(job["spec"]["template"]["metadata"].get("labels", {}),
                                       **{"job-name": job["metadata"]["name"]}),
                        "annotations": {"batch.kubernetes.io/job-completion-index": str(index)}},
           "spec": spec, "status": {"phase": "Pending"}}
    save(path("pods", name + ".json"), pod)
    ok = True
    for kind in ("initContainers", "containers"):
        states = []
        for c in spec.get(kind, []):
            st = run_container(c, pod_dir, index, volumes, name) if ok else {"waiting": {"reason": "PodInitializing"}}
            states.append({"name": c["name"], "state": st})
            if "waiting" in st or st["terminated"]["exitCode"] != 0:
                ok = False
        pod["status"]["initContainerStatuses" if kind == "initContainers" else "containerStatuses"] = states
        save(path("pods", name + ".json"), pod)
    waiting = any(s["state"].get("waiting", {}).get("reason") in ("ErrImagePull", "CreateContainerConfigError")
                  for s in pod["status"].get("containerStatuses", []) + pod["status"].get("initContainerStatuses", []))
    pod["status"]["phase"] = "Pending" if waiting else "Succeeded" if ok else "Failed"
    save(path("pods", name + ".json"), pod)
    return None if waiting else ok


def controller(name):
    """Runs a Job's indexes to the end, as the Job controller and kubelets would."""
    job = load(path("jobs", name + ".json"))
    s = job["spec"]
    n, par = s["completions"], s.get("parallelism", 1)
    limit = s.get("backoffLimitPerIndex", 6)
    done, failed, tries = set(), set(), {}
    pending = list(range(n))
    running = {}
    while pending or running:
        while pending and len(running) < par:
            i = pending.pop(0)
            tries[i] = tries.get(i, 0) + 1
            pid = os.fork()
            if pid == 0:
                r = run_pod(job, i, tries[i])
                os._exit(0 if r else 2 if r is None else 1)
            running[pid] = i
        pid, st = os.wait()
        i = running.pop(pid)
        code = os.waitstatus_to_exitcode(st)
        if code == 0:
            done.add(i)
        elif code == 2:
            # Waiting for an image it will never get: stays pending.
            while True:
                time.sleep(3600)
        elif tries[i] <= limit:
            pending.append(i)
        else:
            failed.add(i)
        status = {"completedIndexes": ranges(done), "failedIndexes": ranges(failed)}
        if not pending and not running:
            status["conditions"] = [{"type": "Failed", "status": "True", "reason": "FailedIndexes"}] if failed \
                else [{"type": "Complete", "status": "True"}]
        save(path("jobs", name + ".status.json"), status)


def jsonpath(objs, template):
    """Real kubectl's jsonpath engine, one object at a time."""
    head, tail = "{range .items[*]}", "{end}"
    assert template.startswith(head) and template.endswith(tail), template
    body = template[len(head):-len(tail)]
    out = ""
    for o in objs:
        p = path("obj.json")
        save(p, o)
        r = subprocess.run([REAL_KUBECTL, "set", "env", "--local", "-f", p, "-o", "jsonpath=" + body, "PACH_EMU=1"],
                           capture_output=True, text=True, env=dict(os.environ, KUBECONFIG="/dev/null"))
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            sys.exit(1)
        out += r.stdout
    return out


def matches(labels, selector):
    k, v = selector.split("=", 1)
    return labels.get(k) == v


def main(argv):
    for d in ("jobs", "pods", "secrets"):
        os.makedirs(path(d), exist_ok=True)
    with open(path("calls.log"), "a") as f:
        f.write(" ".join(argv) + "\n")
    if argv and argv[0] == "__controller":
        return controller(argv[1])
    args = [a for a in argv if not a.startswith("--context=") and not a.startswith("--namespace=")]
    if os.path.exists(path("down")):
        sys.stderr.write("The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?\n")
        return 1
    if args[:3] == ["apply", "-f", "-"]:
        for doc in yaml.safe_load_all(sys.stdin.read()):
            if not doc:
                continue
            name = doc["metadata"]["name"]
            if doc["kind"] == "Secret":
                save(path("secrets", name + ".json"), doc)
                print("secret/%s configured" % name)
            elif doc["kind"] == "Job":
                if os.path.exists(path("jobs", name + ".json")):
                    print("job.batch/%s unchanged" % name)
                    continue
                save(path("jobs", name + ".json"), doc)
                save(path("jobs", name + ".status.json"), {})
                pid = subprocess.Popen([sys.executable, os.path.abspath(__file__), "__controller", name],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=open(path("jobs", name + ".err"), "w"), start_new_session=True).pid
                with open(path("jobs", name + ".pid"), "w") as f:
                    f.write(str(pid))
                print("job.batch/%s created" % name)
        return 0
    if args[:2] == ["get", "jobs"] or args[:2] == ["get", "pods"]:
        sel = args[args.index("-l") + 1]
        tmpl = args[args.index("-o") + 1][len("jsonpath="):]
        objs = []
        kind = args[1]
        for fn in sorted(os.listdir(path(kind))):
            if not fn.endswith(".json") or fn.endswith(".status.json"):
                continue
            o = load(path(kind, fn))
            if o is None:
                continue
            if kind == "jobs":
                o["status"] = load(path("jobs", fn[:-5] + ".status.json"), {})
                labels = o["metadata"].get("labels", {})
            else:
                labels = o["metadata"]["labels"]
            if matches(labels, sel):
                objs.append(o)
        sys.stdout.write(jsonpath(objs, tmpl))
        return 0
    if args[:2] == ["delete", "job"]:
        for name in [a for a in args[2:] if not a.startswith("--")]:
            try:
                pid = int(open(path("jobs", name + ".pid")).read())
                os.killpg(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
            for suffix in (".json", ".status.json", ".pid"):
                try:
                    os.unlink(path("jobs", name + suffix))
                except OSError:
                    pass
            print('job.batch "%s" deleted' % name)
        return 0
    sys.stderr.write("kubectl emulator: not emulated: %s\n" % " ".join(argv))
    return 1


sys.exit(main(sys.argv[1:]))
