// The containerd 1.6 config (version 2) the e2e harness runs with: its own root, state and
// socket, the CRI plugin pointed at the local pause image and at CNI dirs the test controls.
// Each setting below exists for a measured reason (docs/compatibility.md#container-runtimes).

export interface ContainerdConfigInput {
  readonly root: string;
  readonly state: string;
  /** containerd's temp dir (temporary mounts); default would be the host's /tmp. */
  readonly temp: string;
  readonly socket: string;
  readonly sandboxImage: string;
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  /** How many conf files libcni loads from conf_dir; containerd's default is 1 (the first by name). */
  readonly cniMaxConfNum: number;
  readonly snapshotter: "overlayfs" | "native";
  readonly logLevel: "debug" | "info" | "warn" | "error";
}

// Plugins a CRI node here never uses. Leaving them out trims start-up and stops containerd
// from touching host paths (the opt plugin creates /opt/containerd). Not io.containerd.runtime.v1.linux:
// 1.6's tasks service refuses to load without it, and the CRI plugin with it.
export const DISABLED_PLUGINS = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
] as const;

export function renderContainerdConfig(input: ContainerdConfigInput): string {
  const cri = `plugins."io.containerd.grpc.v1.cri"`;
  return `# Written by test/e2e/support/containerd-config.ts for one e2e run.
version = 2
root = ${str(input.root)}
state = ${str(input.state)}
temp = ${str(input.temp)}
disabled_plugins = [${DISABLED_PLUGINS.map(str).join(", ")}]

[grpc]
  address = ${str(input.socket)}

[debug]
  level = ${str(input.logLevel)}

[${cri}]
  sandbox_image = ${str(input.sandboxImage)}
  # This VM's root lacks CAP_SYS_RESOURCE: without this every RunPodSandbox fails in runc
  # ("failed to update /proc/self/oom_score_adj").
  restrict_oom_score_adj = true
  # Pod netns bind mounts under <state>/io.containerd.grpc.v1.cri/netns, not /var/run/netns.
  netns_mounts_under_state_dir = true
  # Loading a profile would change the host kernel's AppArmor state (CI runners enable it).
  disable_apparmor = true
  enable_selinux = false

  [${cri}.cni]
    bin_dir = ${str(input.cniBinDir)}
    conf_dir = ${str(input.cniConfDir)}
    max_conf_num = ${input.cniMaxConfNum}

  [${cri}.containerd]
    snapshotter = ${str(input.snapshotter)}
    default_runtime_name = "runc"

    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
`;
}

/** A TOML basic string. JSON's escapes are a subset of TOML's for the paths and names used here. */
function str(value: string): string {
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error(`control character in TOML value ${JSON.stringify(value)}`);
  return JSON.stringify(value);
}
