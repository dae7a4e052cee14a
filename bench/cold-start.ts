/**
 * Keycloak's own cold start, with and without a class-data archive of the JVM, and with JVM options for a small node.
 *
 * Usage: npx tsx bench/cold-start.ts [version]   (default the catalog's first; its Java is chosen as the driver
 *        chooses it: Java 17 for 26.5, Temurin 25 for 26.6 and later)
 *
 * Every start is a first start (`kc.sh start --optimized` on an empty database of its own: schema, master realm,
 * temporary admin), as an order's is, set up as the local driver sets an instance up (bench/bare-keycloak.ts),
 * timed from spawn to `/health/ready`. Variants, one after the other in this order:
 *   1. shipped: the options `renderKeycloakSettings` gives a b2-4;
 *   2. a training start with the archive being written at exit (Java 17/21: AppCDS `-XX:ArchiveClassesAtExit`;
 *      Java 25: the AOT cache `-XX:AOTCacheOutput`), stopped with SIGTERM once ready (not timed as a variant);
 *   3. archive: shipped + the archive (`-XX:SharedArchiveFile` / `-XX:AOTCache`);
 *   4. c1: shipped + `-XX:TieredStopAtLevel=1` (C1 only: less compile work at start, lower peak throughput);
 *   5. shipped again (the machine's load drifts; the baseline is the mean of 1 and 5).
 * Printed: each time, the ratios against the baseline, the archive's size, and the load average before and after.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/load-config.js';
import { benchArea, distribution, loadAverage } from './bare-keycloak.js';

const version =
  process.argv[2] ?? loadConfig({ DATA_DIR: os.tmpdir() }).catalog.serviceTypes[0]!.versions[0]!;

async function main() {
  const loadBefore = loadAverage();
  const dist = await distribution(version);
  console.log(`cold start: Keycloak ${version} on Java ${dist.javaMajor}; load ${loadBefore}`);
  const area = await benchArea('cold');
  const archive = path.join(
    os.tmpdir(),
    `keyhouse-bench-cold-${area.tag}.${dist.javaMajor >= 25 ? 'aot' : 'jsa'}`,
  );
  const aot = dist.javaMajor >= 25;
  const times: Record<string, number[]> = {};
  async function timed(label: string, extraJavaOptions: string[] = [], record = true) {
    const instance = await area.instance({ dist, database: await area.database(), extraJavaOptions });
    const ms = await instance.start();
    console.log(`  ${label}: ready after ${(ms / 1000).toFixed(1)} s (load ${loadAverage()})`);
    if (record) (times[label] ??= []).push(ms);
    // The training run writes its archive while it exits: give it time (a first run was killed after 60 s).
    await instance.stop(record ? 60_000 : 10 * 60_000);
    if (!record && !existsSync(archive))
      console.log(`  no archive; the JVM said:\n${instance.consoleTail()}`);
    await instance.remove();
  }
  try {
    await timed('shipped');
    await timed(
      'training',
      [aot ? `-XX:AOTCacheOutput=${archive}` : `-XX:ArchiveClassesAtExit=${archive}`],
      false,
    );
    if (!existsSync(archive)) throw new Error(`the training run wrote no archive ${archive}`);
    console.log(`  archive: ${(statSync(archive).size / 2 ** 20).toFixed(0)} MiB`);
    await timed('archive', [aot ? `-XX:AOTCache=${archive}` : `-XX:SharedArchiveFile=${archive}`]);
    await timed('c1', ['-XX:TieredStopAtLevel=1']);
    await timed('shipped');
    const base = times.shipped!.reduce((a, b) => a + b, 0) / times.shipped!.length;
    console.log('\nvariant   first start → ready   ratio to shipped');
    for (const [label, values] of Object.entries(times)) {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      console.log(
        `${label.padEnd(9)} ${values
          .map((v) => `${(v / 1000).toFixed(1)} s`)
          .join(' / ')
          .padStart(20)}   ${(mean / base).toFixed(2)}`,
      );
    }
    console.log(`\nload before ${loadBefore}, after ${loadAverage()}`);
  } finally {
    await area.cleanup();
    rmSync(archive, { force: true });
  }
}

await main();
