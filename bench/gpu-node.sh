# Sourced by the GPU scripts (bench/gpu-worker-check.sh, bench/gpu-train-seeds.sh) on the GPU
# machine: unpacks the CLI bundle, Node, Dawn and the Vulkan/GL loader from .gpu/ (prepared by
# `bash bench/gpu-worker-check.sh --prepare`) and sets $node. With NODE set (a rehearsal on a
# CPU machine, with BACKEND=cpu) nothing is unpacked into /.
[ -d .gpu/cli ] || tar -C .gpu -xJf .gpu/cli.tar.xz
node=${NODE:-/tmp/node}
if [ -z "${NODE:-}" ]; then
  # run.sh unpacks Node to /tmp/node, Dawn and the loader libraries; --help only proves the CLI loads.
  bash .gpu/run.sh --help >/dev/null
  icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json 2>/dev/null | head -1)
  [ -n "$icd" ] && export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
else
  xz -dc .gpu/dawn.node.xz >.gpu/node_modules/webgpu/dist/linux-x64/dawn.node
fi
