// What Plexus keeps in a state directory, as "<containerId>/<entry>" lines for assertions
// (docs/state.md): the files of a container's directory, "<id>/tombstone" for a tombstone (an
// empty file under .tombstones/<bucket>/) and "<id>/lock" while a command holds, or left behind
// a dead holder's, lock record (.locks/<id>).
//
//   await stateEntries(stateDir)          ["c1/eth0.json", "c1/net1.json", "c2/tombstone"]
//   await containerEntries(stateDir, id)  ["tombstone"]

import { readdir } from "node:fs/promises";
import { join } from "node:path";

export async function stateEntries(stateDir: string): Promise<string[]> {
  const ls = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();
  const out: string[] = [];
  for (const name of await ls(stateDir)) {
    if (name.startsWith(".")) continue;
    for (const f of await ls(join(stateDir, name))) out.push(`${name}/${f}`);
  }
  for (const bucket of await ls(join(stateDir, ".tombstones"))) {
    for (const f of await ls(join(stateDir, ".tombstones", bucket))) {
      out.push(`${f.replace(/\.(deleted|rolled-back)$/, "")}/tombstone`);
    }
  }
  for (const id of await ls(join(stateDir, ".locks"))) out.push(`${id}/lock`);
  return out.sort();
}

export async function containerEntries(stateDir: string, containerId: string): Promise<string[]> {
  return (await stateEntries(stateDir))
    .filter((e) => e.startsWith(`${containerId}/`))
    .map((e) => e.slice(containerId.length + 1));
}
