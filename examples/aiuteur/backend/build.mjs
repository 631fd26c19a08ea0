// The build step of the first stage: src/ becomes dist/, each file checked
// to parse, so a syntax error fails `geno up` rather than the container.
import { cpSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import vm from "node:vm";

mkdirSync("dist", { recursive: true });
for (const file of readdirSync("src")) {
  const code = readFileSync(join("src", file), "utf8");
  new vm.Script(code, { filename: file });
  cpSync(join("src", file), join("dist", file));
  console.log(`built dist/${file}`);
}
