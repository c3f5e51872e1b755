#!/usr/bin/python3
"""A real S3 server on 127.0.0.1 for pach's tests and benchmarks.

OpenStack Swift (Debian's python3-swift) behind its S3 layer (s3api) with
tempauth: production code that checks SigV4 signatures and payload
hashes, does multipart uploads, ListObjectsV2 and ranged GETs.

    s3-server.py DATA_DIR PORT

Listens on PORT (S3) and uses PORT+1..PORT+3 (account, container and
object servers) and PORT+4 (memcached), all on 127.0.0.1.  Credentials:
$S3_ACCESS_KEY ("account:user", default test:tester) and $S3_SECRET_KEY
(default testing).  SIGTERM stops everything it started.
"""
import logging, os, pwd, signal, subprocess, sys, time

data, port = os.path.abspath(sys.argv[1]), int(sys.argv[2])
access = os.environ.get('S3_ACCESS_KEY', 'test:tester')
secret = os.environ.get('S3_SECRET_KEY', 'testing')
account, user = access.split(':', 1)
etc, devices, logdir = data + '/etc', data + '/devices', data + '/logs'
for d in (etc, devices + '/d1', logdir):
    os.makedirs(d, exist_ok=True)
backends = {'account': port + 1, 'container': port + 2, 'object': port + 3}
whoami = pwd.getpwuid(os.getuid()).pw_name


def write(name, text):
    with open(os.path.join(etc, name), 'w') as f:
        f.write(text)


if not os.path.exists(etc + '/swift.conf'):
    write('swift.conf', '[swift-hash]\nswift_hash_path_suffix = %s\n\n'
          '[storage-policy:0]\nname = default\ndefault = yes\n' % os.urandom(8).hex())


def server_conf(bind_port):
    return ('[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\nuser = %s\nswift_dir = %s\n'
            'devices = %s\nmount_check = false\nworkers = %s\nlog_level = %s\n\n'
            % (bind_port, whoami, etc, devices, os.environ.get('S3_WORKERS', '2'),
               os.environ.get('S3_LOG_LEVEL', 'WARNING')))


for kind, p in backends.items():
    write('%s-server.conf' % kind, server_conf(p) +
          '[pipeline:main]\npipeline = %s-server\n\n[app:%s-server]\nuse = egg:swift#%s\n'
          % (kind, kind, kind))
middleware = ['catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging', 'cache',
              'listing_formats', 'bulk', 's3api', 'tempauth', 'copy', 'slo', 'dlo']
options = {
    's3api': 'location = us-east-1\nmax_upload_part_num = 10000\n',
    'tempauth': 'user_%s_%s = %s .admin\n' % (account, user, secret),
    'cache': 'memcache_servers = 127.0.0.1:%d\n' % (port + 4),
    'slo': 'max_manifest_segments = 10000\n',
}
eggs = {'cache': 'memcache', 'proxy-logging': 'proxy_logging'}
proxy = server_conf(port) + '[pipeline:main]\npipeline = %s proxy-logging proxy-server\n\n' % ' '.join(middleware)
proxy += '[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n'
for m in sorted(set(middleware)):
    proxy += '[filter:%s]\nuse = egg:swift#%s\n%s\n' % (m, eggs.get(m, m), options.get(m, ''))
write('proxy-server.conf', proxy)

# Swift logs to syslog; a file will do.
from swift.common import utils


class FileLog(logging.FileHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(logdir + '/swift.log')


utils.ThreadSafeSysLogHandler = FileLog
utils.set_swift_dir(etc)
from swift.common import storage_policy
storage_policy.reload_storage_policies()
from swift.common.ring import RingBuilder
for kind, p in backends.items():
    rb = RingBuilder(6, 1, 1)
    rb.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': p,
                'device': 'd1', 'weight': 1})
    rb.rebalance()
    rb.get_ring().save('%s/%s.ring.gz' % (etc, kind))
from swift.common.wsgi import run_wsgi
import swift.proxy.server, swift.obj.server, swift.container.server, swift.account.server  # noqa: E401,F401
import swift.common.middleware.s3api.s3api  # noqa: F401  (imported once, before forking)

kids = {}
mc = ['memcached', '-l', '127.0.0.1', '-p', str(port + 4), '-U', '0', '-m', '64']
if os.getuid() == 0:
    mc += ['-u', 'root']
kids[subprocess.Popen(mc, stdin=subprocess.DEVNULL).pid] = 'memcached'
for kind in ('account', 'container', 'object', 'proxy'):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os._exit(run_wsgi('%s/%s-server.conf' % (etc, kind), kind + '-server') or 0)
    kids[pid] = kind
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
signal.signal(signal.SIGINT, lambda *_: stop.append(1))
status = 0
while not stop:
    pid, st = os.waitpid(-1, os.WNOHANG)
    if pid:
        print('%s exited (%d); stopping' % (kids.pop(pid, pid), st), flush=True)
        status = 1
        break
    time.sleep(0.2)
# Swift servers lead process groups of their workers: end the groups.
for pid, kind in kids.items():
    for kill in ((lambda: os.killpg(pid, signal.SIGTERM)) if kind != 'memcached' else None,
                 lambda: os.kill(pid, signal.SIGTERM)):
        try:
            if kill:
                kill()
        except OSError:
            pass
deadline = time.time() + 15
while kids and time.time() < deadline:
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid:
        kids.pop(pid, None)
    else:
        time.sleep(0.1)
for pid, kind in kids.items():
    try:
        os.killpg(pid, signal.SIGKILL) if kind != 'memcached' else os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
sys.exit(status)
