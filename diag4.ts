import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./src/backend/select.ts";
import { initWeights } from "./src/model/params.ts";
import { forward, fullMask } from "./src/model/vit.ts";

await initBackend({ preference: "cpu" });
const config = {
  imageSize: 8,
  patchSize: 2,
  channels: 1,
  width: 8,
  depth: 2,
  heads: 2,
  mlpRatio: 2,
  numClasses: 3,
};
const weights = initWeights(config, 2, 5);
for (const v of weights.values()) v.assign(tf.mul(v, 3));
const x = tf.randomNormal([3, 8, 8, 1], 0, 1, "float32", 3) as tf.Tensor4D;
const y = tf.oneHot(tf.tensor1d([0, 1, 2], "int32"), 3);
const names = [...weights.keys()];
// float64-ish numerical check impossible; instead directional derivative with larger eps & compare along gradient direction
const loss = () =>
  tf.losses.softmaxCrossEntropy(
    y,
    forward(config, weights, x, { side: 8, activeBlocks: fullMask(2) }),
  ) as tf.Scalar;
const { grads } = tf.variableGrads(loss, [...weights.values()]);
const byName = new Map([...weights.entries()].map(([n, v]) => [v.name, n]));
for (const [k, g] of Object.entries(grads)) {
  const name = byName.get(k)!;
  const v = weights.get(name)!;
  const orig = v.clone();
  const gn = tf.norm(g).dataSync()[0]!;
  const dir = tf.div(g, gn);
  const res: string[] = [];
  for (const eps of [3e-2, 1e-2, 3e-3]) {
    v.assign(tf.add(orig, tf.mul(dir, eps)));
    const lp = loss().dataSync()[0]!;
    v.assign(tf.sub(orig, tf.mul(dir, eps)));
    const lm = loss().dataSync()[0]!;
    v.assign(orig);
    res.push(((lp - lm) / (2 * eps)).toFixed(4));
  }
  console.log(name.padEnd(24), "analytic", gn.toFixed(4), "numeric", res.join(" "));
}
