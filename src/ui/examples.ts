import fashionBatchScaling from "../../examples/fashion-mnist-batch-scaling.json" with { type: "json" };
import fashionMicro from "../../examples/fashion-mnist-micro.json" with { type: "json" };
import fashionPaper from "../../examples/fashion-mnist-paper.json" with { type: "json" };
import mnistMicro from "../../examples/mnist-micro.json" with { type: "json" };
import mnistMicroGpu from "../../examples/mnist-micro-gpu.json" with { type: "json" };

/** The repository's example specs (examples/*.json), bundled so the spec editor can start from one. */
export const EXAMPLE_SPECS: readonly { readonly file: string; readonly spec: unknown }[] = [
  { file: "mnist-micro.json", spec: mnistMicro },
  { file: "fashion-mnist-micro.json", spec: fashionMicro },
  { file: "fashion-mnist-batch-scaling.json", spec: fashionBatchScaling },
  { file: "fashion-mnist-paper.json", spec: fashionPaper },
  { file: "mnist-micro-gpu.json", spec: mnistMicroGpu },
];
