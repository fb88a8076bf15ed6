// OpenZeppelin's StandardMerkleTree over ["uint256", "bytes32"] leaves (dataset items), for comparison.
// stdin: {"values": [["index", "0xhash"], ...]}  stdout: {"root", "proofs" (by index)}
import { readFileSync } from "node:fs";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const { values } = JSON.parse(readFileSync(0, "utf8"));
const tree = StandardMerkleTree.of(values, ["uint256", "bytes32"]);
process.stdout.write(JSON.stringify({ root: tree.root, proofs: values.map((_, i) => tree.getProof(i)) }));
