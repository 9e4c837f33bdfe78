//! A container's LXC configuration: the first lines conteneur gives
//! `lxc-create` (network namespace, AppArmor), the lines it appends after
//! the template's (marker comment, host name, environment, mounts, memory
//! limit, autostart, forwarding hooks), and how an OCI image's command is
//! run under LXC's init. Pure text, so it is tested as text; its own file
//! because it is the one place where launch plans become LXC settings.

use super::MARKER;
use crate::backend::HostMount;
use crate::plan::launch::Launch;

/// How the host limits memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroup {
    V1,
    V2,
}

impl Cgroup {
    /// cgroup v2 when the memory controller is on the unified hierarchy.
    pub fn detect() -> Cgroup {
        match std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers") {
            Ok(c) if c.split_whitespace().any(|w| w == "memory") => Cgroup::V2,
            _ => Cgroup::V1,
        }
    }
}

/// What [`render_config`] needs besides the launch plan.
#[derive(Debug, Clone)]
pub struct ConfigInput<'a> {
    pub server: &'a str,
    pub plan_hash: &'a str,
    /// Host folders, resolved (volumes already turned into folders).
    pub mounts: &'a [HostMount],
    pub cgroup: Cgroup,
    /// The conteneur binary, run by the forwarding hooks.
    pub exe: &'a str,
}

fn no_newline(what: &str, value: &str) -> Result<(), String> {
    if value.contains(['\n', '\r']) {
        Err(format!("{what} '{value}' holds a line break"))
    } else {
        Ok(())
    }
}

fn no_space(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.contains(char::is_whitespace) {
        Err(format!("{what} '{value}' is empty or holds a space"))
    } else {
        Ok(())
    }
}

/// The first lines of a container's configuration, before the template's:
/// a network namespace with its loopback only, and AppArmor as the host
/// has it.
pub fn base_config(apparmor: bool) -> String {
    format!(
        "# conteneur: a network namespace of its own, loopback only (ports come through conteneur lxc-forward)\n\
         lxc.net.0.type = empty\n\
         lxc.net.0.flags = up\n\
         lxc.apparmor.profile = {}\n",
        if apparmor { "generated" } else { "unconfined" }
    )
}

/// Where Debian's lxc package puts LXC's small static init.
pub const INIT_LXC: &str = "/usr/sbin/init.lxc.static";

/// The arguments of the `lxc.execute.cmd` line the OCI template writes
/// (`'"/bin/httpd" "-f" …'`: JSON strings between single quotes).
pub fn execute_args(config: &str) -> Option<Vec<String>> {
    let line = config
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("lxc.execute.cmd"))?;
    let value = line.trim_start().strip_prefix('=')?.trim();
    let inner = value.strip_prefix('\'')?.strip_suffix('\'')?;
    let args: Result<Vec<String>, _> = serde_json::Deserializer::from_str(inner)
        .into_iter::<String>()
        .collect();
    args.ok().filter(|a| !a.is_empty())
}

/// The lines that let `lxc-start` (and so `lxc-autostart` at boot) run an
/// OCI image's command under LXC's init, as `lxc-execute` does: the init
/// bind-mounted into the container, and `lxc.init.cmd`. None when an
/// argument holds a space or a quote: LXC splits `lxc.init.cmd` on spaces
/// and keeps quotes, so such a command can only run through `lxc-execute`.
pub fn init_lines(args: &[String], lxc_name: &str, init: &str) -> Option<String> {
    let plain = |a: &str| {
        !a.is_empty() && !a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'')
    };
    if !args.iter().all(|a| plain(a)) || !plain(lxc_name) || !plain(init) {
        return None;
    }
    Some(format!(
        "lxc.mount.entry = {init} .conteneur-init none bind,ro,create=file 0 0\n\
         lxc.init.cmd = /.conteneur-init -n {lxc_name} -- {}\n",
        args.join(" ")
    ))
}

/// The lines conteneur appends to a container's configuration after the
/// template's: marker comment, host name, environment, mounts, limits,
/// autostart and the forwarding hooks. Pure, so it is tested as text.
pub fn render_config(launch: &Launch, input: &ConfigInput<'_>) -> Result<String, String> {
    let mut out = String::new();
    out.push_str(&format!(
        "\n# conteneur: managed server={} name={} plan-hash={} (labels in {MARKER}; conteneur rewrites this container, do not edit)\n",
        input.server, launch.name, input.plan_hash
    ));
    out.push_str(&format!("lxc.uts.name = {}\n", launch.name));
    for e in &launch.env {
        no_newline("environment entry", e)?;
        if !e.contains('=') {
            return Err(format!("environment entry '{e}' is not NAME=value"));
        }
        out.push_str(&format!("lxc.environment = {e}\n"));
    }
    for m in input.mounts {
        no_space("host folder", &m.host)?;
        no_space("folder in the container", &m.container)?;
        if !m.container.starts_with('/') {
            return Err(format!(
                "folder in the container '{}' is not absolute",
                m.container
            ));
        }
        out.push_str(&format!(
            "lxc.mount.entry = {} {} none bind,create=dir 0 0\n",
            m.host,
            m.container.trim_start_matches('/')
        ));
    }
    if !launch.memory.is_empty() {
        let bytes = launch
            .memory
            .bytes()
            .ok_or_else(|| format!("memory limit '{}' is not a size", launch.memory))?;
        out.push_str(&match input.cgroup {
            Cgroup::V2 => format!("lxc.cgroup2.memory.max = {bytes}\n"),
            Cgroup::V1 => format!("lxc.cgroup.memory.limit_in_bytes = {bytes}\n"),
        });
    }
    if launch.app.no_new_privileges {
        // As Docker's no-new-privileges: no process gains privileges
        // through setuid programs.
        out.push_str("lxc.no_new_privs = 1\n");
    }
    let auto = if launch.restart == "no" { 0 } else { 1 };
    out.push_str(&format!("lxc.start.auto = {auto}\n"));
    if !launch.ports.is_empty() {
        no_space("conteneur binary", input.exe)?;
        let ports: Vec<String> = launch
            .ports
            .iter()
            .map(|p| format!("--port {}:{}={}", p.address, p.host, p.container))
            .collect();
        out.push_str(&format!(
            "lxc.hook.start-host = {} lxc-forward start {}\n",
            input.exe,
            ports.join(" ")
        ));
        out.push_str(&format!(
            "lxc.hook.post-stop = {} lxc-forward stop\n",
            input.exe
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        let mut l = crate::plan::launch::sample("web", "1.0", 8080);
        l.backend = "lxc".into();
        l.env = vec!["A=b c".into()];
        l.memory = "64m".into();
        l
    }

    fn input<'a>(mounts: &'a [HostMount], cgroup: Cgroup) -> ConfigInput<'a> {
        ConfigInput {
            server: "/srv/root",
            plan_hash: "abc",
            mounts,
            cgroup,
            exe: "/usr/bin/conteneur",
        }
    }

    #[test]
    fn config_maps_every_setting() {
        let mounts = [HostMount {
            host: "/srv/root/srv/web".into(),
            container: "/www/data".into(),
            bind: true,
            read_only: false,
        }];
        let mut hardened = launch();
        hardened.app.no_new_privileges = true;
        let text = render_config(&hardened, &input(&mounts, Cgroup::V1)).unwrap();
        assert!(text.contains("lxc.no_new_privs = 1\n"), "{text}");
        let text = render_config(&launch(), &input(&mounts, Cgroup::V1)).unwrap();
        assert!(!text.contains("no_new_privs"), "{text}");
        for want in [
            "# conteneur: managed server=/srv/root name=web plan-hash=abc",
            "lxc.uts.name = web\n",
            "lxc.environment = A=b c\n",
            "lxc.mount.entry = /srv/root/srv/web www/data none bind,create=dir 0 0\n",
            "lxc.cgroup.memory.limit_in_bytes = 67108864\n",
            "lxc.start.auto = 1\n",
            "lxc.hook.start-host = /usr/bin/conteneur lxc-forward start --port 127.0.0.1:8080=80\n",
            "lxc.hook.post-stop = /usr/bin/conteneur lxc-forward stop\n",
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
        let text = render_config(&launch(), &input(&mounts, Cgroup::V2)).unwrap();
        assert!(
            text.contains("lxc.cgroup2.memory.max = 67108864\n"),
            "{text}"
        );
        let mut l = launch();
        l.restart = "no".into();
        l.ports.clear();
        l.memory = Default::default();
        let text = render_config(&l, &input(&[], Cgroup::V2)).unwrap();
        assert!(text.contains("lxc.start.auto = 0\n"), "{text}");
        assert!(
            !text.contains("lxc-forward") && !text.contains("memory"),
            "{text}"
        );
    }

    #[test]
    fn config_refuses_what_would_break_its_lines() {
        let mut l = launch();
        l.env = vec!["A=1\nlxc.rootfs.path = /".into()];
        assert!(render_config(&l, &input(&[], Cgroup::V1)).is_err());
        let mounts = [HostMount {
            host: "/srv/a b".into(),
            container: "/data".into(),
            bind: true,
            read_only: false,
        }];
        assert!(render_config(&launch(), &input(&mounts, Cgroup::V1)).is_err());
        let base = base_config(false);
        assert!(base.contains("lxc.net.0.type = empty") && base.contains("unconfined"));
    }

    #[test]
    fn an_oci_command_runs_under_lxc_init_with_lxc_start() {
        let config = "lxc.rootfs.path = dir:/x\nlxc.execute.cmd = '\"/bin/httpd\" \"-f\" \"-p\" \"80\" '\nlxc.uts.name = web\n";
        let args = execute_args(config).unwrap();
        assert_eq!(args, ["/bin/httpd", "-f", "-p", "80"]);
        assert_eq!(
            init_lines(&args, "web.next", INIT_LXC).unwrap(),
            "lxc.mount.entry = /usr/sbin/init.lxc.static .conteneur-init none bind,ro,create=file 0 0\n\
             lxc.init.cmd = /.conteneur-init -n web.next -- /bin/httpd -f -p 80\n"
        );
        // LXC cannot say an argument with a space in lxc.init.cmd.
        let spaced = vec!["/bin/sh".to_string(), "-c".into(), "echo a b".into()];
        assert_eq!(init_lines(&spaced, "web", INIT_LXC), None);
        assert_eq!(execute_args("lxc.uts.name = web\n"), None);
        assert_eq!(execute_args("lxc.execute.cmd = ''\n"), None);
    }
}
