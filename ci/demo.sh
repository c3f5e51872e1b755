#!/bin/sh
# A short tour of pach on a scratch store (run by `make demo`).
set -e
PACH="$(cd "$(dirname "$0")/.." && pwd)/pach"
demo=$(mktemp -d /tmp/pach-demo.XXXXXX)
cd "$demo"
run() { printf '\n$ %s\n' "$*"; "$@"; }

mkdir photos && echo "a cat" >photos/cat.txt && echo "a dog" >photos/dog.txt
mkdir photos/raw && head -c 1048576 /dev/urandom >photos/raw/img0001.bin

run "$PACH" init
run "$PACH" repo create images -d "demo photos"
run "$PACH" commit images@master photos -m "first photos"
echo "a bird" >photos/bird.txt && rm photos/dog.txt && echo "a fat cat" >photos/cat.txt
run "$PACH" commit images@master photos -m "more photos"
run "$PACH" log images --oneline
run "$PACH" diff images@master~1 images@master
run "$PACH" ls -l images@master
run "$PACH" glob images@master "/*.txt"
run "$PACH" branch images experiment master~1
run "$PACH" cat images@experiment:/dog.txt
run "$PACH" get images@master out && ls -R out
echo "--- git itself reads the store:"
run git --git-dir=.pach log --oneline images/master
run git --git-dir=.pach fsck --strict
run "$PACH" fsck

echo
echo "--- a pipeline in a real container (bubblewrap over a busybox root):"
mkdir -p rootfs/bin rootfs/tmp rootfs/proc rootfs/dev rootfs/pfs
cp "$(command -v busybox)" rootfs/bin/busybox
for a in sh cat tr wc basename; do ln -s busybox "rootfs/bin/$a"; done
cat >shout.yaml <<YAML
pipeline: {name: shout}
description: upper-cases every text file
transform:
  image: dir:$demo/rootfs
  cmd: [sh]
  stdin: ["tr a-z A-Z <\$images >/pfs/out/\$(basename \$images)"]
input: {pfs: {repo: images, glob: "/*.txt"}}
YAML
cat shout.yaml
run "$PACH" pipeline create -f shout.yaml
run "$PACH" datums -f shout.yaml
run "$PACH" run
run "$PACH" cat shout@master:/cat.txt
echo "a loud bird" >photos/bird.txt
run "$PACH" commit images@master photos -m "change one input"
run "$PACH" run
run "$PACH" diff shout@master~1 shout@master
run "$PACH" show shout@master

echo
echo "--- a work tree, as in git:"
run "$PACH" checkout images@master wt
cd wt
echo "a cat, relabelled" >cat.txt && echo "a fish" >fish.txt
run "$PACH" status
run "$PACH" diff
run "$PACH" add cat.txt fish.txt
run "$PACH" commit -m "relabel"
run "$PACH" log --oneline
cd ..
run "$PACH" run

echo
echo "--- undo: reflog, snapshot, rollback of the whole store (and its undo):"
run "$PACH" snapshot before-mistake
echo "garbage" >photos/cat.txt
run "$PACH" commit images@master photos -m "a mistake"
run "$PACH" run
run "$PACH" reflog images@master -n 3
run "$PACH" rollback --to before-mistake
run "$PACH" cat shout@master:/cat.txt
run "$PACH" run
run "$PACH" rollback --undo
run "$PACH" cat images@master:/cat.txt

echo
echo "--- on a cluster: what would be submitted (nothing runs without one):"
run "$PACH" remote add origin s3://demo-bucket/store --endpoint http://127.0.0.1:9
echo "new" >photos/dog.txt
run "$PACH" commit images@master photos -m "a dog"
run "$PACH" run shout --executor slurm --dry-run
# Pods pull images from a registry: the same pipeline on a registry image.
sed "s|image: dir:.*|image: busybox:1.36|; s|name: shout|name: shout-k8s|" shout.yaml >shout-k8s.yaml
run "$PACH" pipeline create -f shout-k8s.yaml
run "$PACH" run shout-k8s --executor kubernetes --dry-run
echo "(on a Slurm cluster: pach run --executor slurm; on Kubernetes: make worker-image,"
echo " push it, pach config set kubernetes.workerImage IMAGE, pach run --executor kubernetes;"
echo " see pach-run(1), EXECUTORS)"
rm -rf "$demo"
echo
echo "demo done."
