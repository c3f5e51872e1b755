#!/bin/sh
test_description='podman: the podman runtime, and images by plain name for every runtime'
. ./test-lib.sh

busybox=$(command -v busybox || true)
if [ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1; then
	test_set_prereq BUSYBOX
fi
if command -v podman >/dev/null && [ "$(id -u)" = 0 ] && podman info >/dev/null 2>&1; then
	test_set_prereq PODMAN
fi
if command -v bwrap >/dev/null && bwrap --ro-bind / / true 2>/dev/null; then
	test_set_prereq BWRAP
fi
# A tag of our own, removed at the end: nothing is left in podman's storage.
TAG=localhost/pach-t6340-$$:v1

test_expect_success PODMAN,BUSYBOX 'setup: an image imported into podman' '
	mkdir -p rootfs/bin rootfs/etc rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs &&
	cp "$busybox" rootfs/bin/busybox &&
	for a in sh id cat ls wc cp grep basename sleep touch; do ln -s busybox rootfs/bin/$a; done &&
	printf "root:x:0:0::/root:/bin/sh\napp:x:1234:4321::/:/bin/sh\n" >rootfs/etc/passwd &&
	printf "root:x:0:\napp:x:4321:\n" >rootfs/etc/group &&
	tar -C rootfs -c . | podman import --change "ENV GREETING=from-podman" --change "WORKDIR /etc" - $TAG >/dev/null &&
	pach init && pach repo create in && mkdir d && echo hello >d/a && echo world >d/b && pach commit in d &&
	cat >pd.yaml <<-EOF
	pipeline: {name: pd}
	runtime: podman
	transform:
	  image: $TAG
	  cmd: [sh]
	  stdin:
	  - "b=\$(basename \$in); cp \$in /pfs/out/\$b"
	  - "if touch /pfs/in/x 2>/dev/null; then echo writable; else echo read-only; fi >/pfs/out/\$b.inputs"
	  - "if touch /x 2>/dev/null; then echo writable; else echo read-only; fi >/pfs/out/\$b.root"
	  - "grep -c : /proc/net/dev >/pfs/out/\$b.net"
	  - "echo \$PPS_PIPELINE_NAME \$GREETING \$(pwd) >/pfs/out/\$b.env"
	input: {pfs: {repo: in, glob: "/*"}}
	EOF
	pach pipeline create -f pd.yaml
'

test_expect_success PODMAN,BUSYBOX 'runtime podman runs an image by name: isolated, image config applied' '
	pach run pd >out 2>&1 && grep "2 processed" out &&
	test "$(pach cat pd:/a)" = hello && test "$(pach cat pd:/a.inputs)" = read-only &&
	test "$(pach cat pd:/a.root)" = read-only && test "$(pach cat pd:/a.net)" = 1 &&
	test "$(pach cat pd:/b.env)" = "pd from-podman /etc" &&
	test -z "$(podman ps -a --format "{{.Names}}" | grep "^pach-")" && git_fsck
'

test_expect_success PODMAN,BUSYBOX 'podman: transform.user, resolved in the image' '
	sed "s/name: pd}/name: pu}/; s|^transform:|transform:\n  user: app|" pd.yaml >pu.yaml &&
	sed -i "s|  stdin:|  stdin:\n  - \"id -u >/pfs/out/\\\$(basename \\\$in).uid\"|" pu.yaml &&
	pach pipeline create -f pu.yaml && pach run pu >out 2>&1 && test "$(pach cat pu:/a.uid)" = 1234
'

test_expect_success PODMAN,BUSYBOX,BWRAP 'bwrap runs the same name, saved from podman and unpacked once' '
	sed "s/name: pd}/name: pb}/; s/runtime: podman/runtime: bwrap/" pd.yaml >pb.yaml &&
	pach pipeline create -f pb.yaml && pach run pb >out 2>&1 && grep "2 processed" out &&
	test "$(pach cat pb:/b.env)" = "pb from-podman /etc" && test "$(pach cat pb:/a.net)" = 1 &&
	id=$(podman image inspect --format "{{.Id}}" $TAG) && test -d .pach/pach/images/$id/rootfs/bin &&
	echo again >d/c && pach commit in d && pach run pb >out 2>&1 && grep "1 processed, 2 skipped" out &&
	test "$(ls .pach/pach/images | grep -c .)" = 1
'

test_expect_success PODMAN,BUSYBOX 'a new image under the same name reprocesses' '
	echo v2 >rootfs/etc/version &&
	tar -C rootfs -c . | podman import --change "ENV GREETING=v2" - $TAG >/dev/null &&
	pach run pd >out 2>&1 && grep "3 processed" out && test "$(pach cat pd:/a.env | cut -d" " -f2)" = v2
'

test_expect_success PODMAN,BUSYBOX 'podman runs dir: images from the unpacked root' '
	sed "s/name: pd}/name: pr}/; s|image: .*|image: dir:$PWD/rootfs|" pd.yaml >pr.yaml &&
	pach pipeline create -f pr.yaml && pach run pr >out 2>&1 && grep "3 processed" out &&
	test "$(pach cat pr:/a.root)" = read-only && test "$(pach cat pr:/a.net)" = 1
'

test_expect_success PODMAN,BUSYBOX 'a name podman does not know is one clear line, nothing committed' '
	sed "s/name: pd}/name: px}/; s|image: .*|image: localhost/pach-no-such-image:v9|" pd.yaml >px.yaml &&
	pach pipeline create -f px.yaml && store_state >before &&
	test_fatal pach run px && grep "not known to podman" fatal.err && test_line_count = 1 fatal.err &&
	test_must_fail pach rev-parse px@master
'

test_expect_success PODMAN,BUSYBOX 'a datum timeout removes the container' '
	cat >pt.yaml <<-EOF
	pipeline: {name: pt}
	runtime: podman
	datum_tries: 1
	datum_timeout: 2s
	transform: {image: $TAG, cmd: [sh, -c, "sleep 60"]}
	input: {pfs: {repo: in, glob: /}}
	EOF
	pach pipeline create -f pt.yaml && test_expect_code 1 pach run pt >out 2>&1 && grep "1 failed" out &&
	pach logs --pipeline pt | grep "timed out" &&
	test -z "$(podman ps -a --format "{{.Names}}" | grep "^pach-")"
'

test_expect_success PODMAN,BUSYBOX 'warnings podman prints on stderr do not spoil what pach parses' '
	mkdir -p noisy && real=$(command -v podman) &&
	printf "#!/bin/sh\necho \"WARN[0000] a warning on stderr\" >&2\nexec %s \"\$@\"\n" "$real" >noisy/podman &&
	chmod +x noisy/podman &&
	PATH="$PWD/noisy:$PATH" pach run --reprocess pd >out 2>err && grep "0 failed" out &&
	! grep "bad.*JSON\|inspect output" err
'

test_expect_success PODMAN 'cleanup: our image leaves podman' '
	podman rmi -f $TAG >/dev/null
'

test_done
