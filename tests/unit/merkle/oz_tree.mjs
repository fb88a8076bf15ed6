// Reference output of OpenZeppelin's StandardMerkleTree for the tests in this folder.
// stdin: {"sets": [[["0xaddr", "amount"], ...], ...], "dumps": [<standard-v1 dump>, ...]}
// stdout: {"trees": [{"root", "proofs" (by value index), "byValue" (getProof(value)), "dump"}],
//          "loaded": [{"root", "verified"} for each dump, or {"error"}]}
import { readFileSync } from "node:fs";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const input = JSON.parse(readFileSync(0, "utf8"));
const encoding = ["address", "uint256"];

const trees = input.sets.map((values) => {
  const tree = StandardMerkleTree.of(values, encoding);
  return {
    root: tree.root,
    proofs: values.map((_, i) => tree.getProof(i)),
    byValue: values.map((value) => tree.getProof(value)),
    dump: tree.dump(),
  };
});

const loaded = (input.dumps ?? []).map((dump) => {
  try {
    const tree = StandardMerkleTree.load(dump);
    const verified = dump.values.every(({ value }, i) =>
      StandardMerkleTree.verify(tree.root, encoding, value, tree.getProof(i)),
    );
    return { root: tree.root, verified };
  } catch (error) {
    return { error: String(error) };
  }
});

process.stdout.write(JSON.stringify({ trees, loaded }));
