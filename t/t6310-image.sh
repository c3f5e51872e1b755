#!/bin/sh
test_description='docker-archive images: layers, whiteouts, gzip, image Env'
. ./test-lib.sh

if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
	test_set_prereq BWRAP
fi
busybox=$(command -v busybox || true)
if [ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1; then
	test_set_prereq BUSYBOX
fi
command -v python3 >/dev/null && test_set_prereq PYTHON

make_image() {
	python3 - "$busybox" "$1" "$2" <<-\PY
	import gzip, io, json, sys, tarfile
	busybox, out, variant = sys.argv[1], sys.argv[2], sys.argv[3]
	evil = variant != "good"
	def layer(entries, gz=False):
	    buf = io.BytesIO()
	    with tarfile.open(fileobj=buf, mode="w") as t:
	        for name, kind, data in entries:
	            ti = tarfile.TarInfo(name)
	            if kind == "dir":
	                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
	                t.addfile(ti)
	            elif kind == "link":
	                ti.type, ti.linkname = tarfile.SYMTYPE, data
	                t.addfile(ti)
	            elif kind == "hard":
	                ti.type, ti.linkname = tarfile.LNKTYPE, data
	                t.addfile(ti)
	            else:
	                ti.size, ti.mode = len(data), 0o755
	                t.addfile(ti, io.BytesIO(data))
	    raw = buf.getvalue()
	    return gzip.compress(raw) if gz else raw
	bb = open(busybox, "rb").read()
	l1 = [("bin", "dir", None), ("bin/busybox", "file", bb)]
	l1 += [("bin/" + a, "link", "busybox") for a in ["sh", "ls", "cat", "cp", "echo", "pwd", "id"]]
	l1 += [("etc", "dir", None), ("etc/a", "file", b"a\n"), ("etc/b", "file", b"b\n"),
	       ("opq", "dir", None), ("opq/x", "file", b"x\n")]
	if variant == "evil":
	    l1.append(("../../escaped", "file", b"boo\n"))
	if variant == "hardlink":
	    # A symlink out of the root, then a hard link through it.
	    import os
	    l1 += [("esc", "link", os.getcwd() + "/sentinel"), ("stolen", "hard", "esc/victim")]
	l2 = [("etc/.wh.a", "file", b""), ("opq/.wh..wh..opq", "file", b""), ("opq/y", "file", b"y\n")]
	if variant == "whiteout":
	    l2.append(("etc/.wh...", "file", b""))
	# A real config names its layers by digest (rootfs.diff_ids): so does this one.
	config = json.dumps({"config": {"Env": ["GREETING=from-image", "PATH=/bin"], "WorkingDir": "/etc", "User": "4321:77"},
	                     "rootfs": {"type": "layers", "diff_ids": [variant]}}).encode()
	manifest = json.dumps([{"Config": "config.json", "RepoTags": ["t:latest"],
	                        "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode()
	if out.endswith(".oci"):
	    # An OCI image layout: index.json -> manifest -> config and layers, by digest.
	    import hashlib, os
	    def blob(data):
	        h = hashlib.sha256(data).hexdigest()
	        os.makedirs(out + "/blobs/sha256", exist_ok=True)
	        open(out + "/blobs/sha256/" + h, "wb").write(data)
	        return {"digest": "sha256:" + h, "size": len(data)}
	    os.makedirs(out, exist_ok=True)
	    c = blob(config)
	    ls = [blob(layer(l1)), blob(layer(l2, gz=True))]
	    m = blob(json.dumps({"schemaVersion": 2, "config": c, "layers": ls}).encode())
	    m["annotations"] = {"org.opencontainers.image.ref.name": "v1"}
	    open(out + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [m]}))
	    open(out + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
	else:
	    with tarfile.open(out, "w") as t:
	        for name, data in [("manifest.json", manifest), ("config.json", config),
	                           ("l1/layer.tar", layer(l1)), ("l2/layer.tar", layer(l2, gz=True))]:
	            ti = tarfile.TarInfo(name)
	            ti.size = len(data)
	            t.addfile(ti, io.BytesIO(data))
	PY
}

test_expect_success BWRAP,BUSYBOX,PYTHON 'setup: a two-layer docker-archive with whiteouts' '
	make_image img.tar good &&
	pach init && pach repo create in && mkdir d && echo data >d/f && pach commit in d &&
	cat >img.yaml <<-EOF
	pipeline: {name: img}
	transform:
	  image: docker-archive:$PWD/img.tar
	  cmd: [sh, -c, "b=\$(basename \$in); ls /etc >/pfs/out/\$b.etc; ls /opq >/pfs/out/\$b.opq; echo \$GREETING >/pfs/out/\$b.greet; pwd >/pfs/out/\$b.pwd; id -u >/pfs/out/\$b.uid; id -g >>/pfs/out/\$b.uid; cp \$in /pfs/out/"]
	input: {pfs: {repo: in, glob: "/*"}}
	EOF
	pach pipeline create -f img.yaml
'

test_expect_success BWRAP,BUSYBOX,PYTHON 'layers apply in order, whiteouts and opaque dirs honoured' '
	pach run >out && grep "1 processed" out &&
	test "$(pach cat img:/f.etc)" = b && test "$(pach cat img:/f.opq)" = y && test "$(pach cat img:/f)" = data
'

test_expect_success BWRAP,BUSYBOX,PYTHON 'the image Env, WorkingDir and User are applied' '
	test "$(pach cat img:/f.greet)" = from-image && test "$(pach cat img:/f.pwd)" = /etc &&
	printf "4321\n77\n" >expect && pach cat img:/f.uid >actual && test_cmp expect actual
'

test_expect_success BWRAP,BUSYBOX,PYTHON 'unpacked once, into the store cache' '
	ls .pach/pach/images | grep -c . >n && test "$(cat n)" = 1 &&
	echo more >d/g && pach commit in d && pach run >out && grep "1 processed, 1 skipped" out &&
	test "$(ls .pach/pach/images | grep -c .)" = 1
'

test_expect_success BWRAP,BUSYBOX,PYTHON 'a path leaving the image root is refused, nothing written outside' '
	make_image evil.tar evil &&
	sed "s|img.tar|evil.tar|; s|name: img}|name: evil}|" img.yaml >evil.yaml &&
	pach pipeline create -f evil.yaml &&
	test_fatal pach run evil && grep "leaves the image root" fatal.err &&
	test_path_is_missing ../escaped && test_path_is_missing ../../escaped
'

test_expect_success BWRAP,BUSYBOX,PYTHON 'a hard link through a symlink, a whiteout of "..": refused, nothing outside touched' '
	mkdir -p sentinel && echo keep >sentinel/victim &&
	make_image hl.tar hardlink && make_image wh.tar whiteout &&
	sed "s|img.tar|hl.tar|; s|name: img}|name: hl}|" img.yaml >hl.yaml &&
	sed "s|img.tar|wh.tar|; s|name: img}|name: wh}|" img.yaml >wh.yaml &&
	pach pipeline create -f hl.yaml -f wh.yaml &&
	ls -la .pach/pach >before &&
	test_fatal pach run hl && grep "does not name a file of the image" fatal.err &&
	test "$(stat -c %h sentinel/victim)" = 1 && test "$(cat sentinel/victim)" = keep &&
	test_fatal pach run wh && grep "refusing whiteout" fatal.err &&
	ls -la .pach/pach >after && test_cmp before after && test_path_is_dir .pach/pach/images
'

test_expect_success BWRAP,BUSYBOX,PYTHON 'OCI layouts: oci:DIR:TAG and oci-archive:FILE' '
	make_image img.oci good && (cd img.oci && tar -cf ../img-oci.tar .) &&
	sed "s|docker-archive:\(.*\)img.tar|oci:\1img.oci:v1|; s|name: img}|name: o1}|" img.yaml >o1.yaml &&
	sed "s|docker-archive:\(.*\)img.tar|oci-archive:\1img-oci.tar|; s|name: img}|name: o2}|" img.yaml >o2.yaml &&
	grep "oci:" o1.yaml && grep "oci-archive:" o2.yaml &&
	pach pipeline create -f o1.yaml -f o2.yaml && pach run o1 o2 >out &&
	for p in o1 o2; do
		test "$(pach cat $p:/f.etc)" = b && test "$(pach cat $p:/f.opq)" = y &&
		test "$(pach cat $p:/f.greet)" = from-image || exit 1
	done &&
	sed "s|:v1|:v2|; s|name: o1}|name: o3}|" o1.yaml >o3.yaml && pach pipeline create -f o3.yaml &&
	test_fatal pach run o3 && grep "no manifest tagged .v2." fatal.err
'

test_expect_success BWRAP,BUSYBOX,PYTHON 'a missing archive is a clear error' '
	sed "s|img.tar|nosuch.tar|; s|name: img}|name: miss}|" img.yaml >miss.yaml &&
	pach pipeline create -f miss.yaml && test_fatal pach run miss && grep "unable to open" fatal.err
'

test_done
