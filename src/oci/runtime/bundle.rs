//! A bundle: its directory, its config.json read (`oci::config`), and the `Spec` it describes
//! (`oci::spec::to_spec`, then `spec::validate` as for every front end).

use crate::error::SetupError;
use crate::oci::config::{self, Config, OciError};
use crate::oci::spec::{CgroupManager, Facts};
use crate::spec::Spec;
use std::path::{Path, PathBuf};

pub struct Bundle {
    pub dir: PathBuf,
    pub config: Config,
    pub rootfs: PathBuf,
}

/// config.json's error, `config.json: <JSON path>: <why>`, as the runtime's one line.
pub fn oci_error(e: OciError) -> SetupError {
    let rest =
        e.0.strip_prefix("config.json: ")
            .unwrap_or(&e.0)
            .to_string();
    SetupError::new("config.json", "", rest)
}

pub fn load(dir: &Path) -> Result<Bundle, SetupError> {
    let dir = std::path::absolute(dir)
        .map_err(|e| SetupError::new("--bundle", dir.display().to_string(), e.to_string()))?;
    let p = dir.join("config.json");
    let text = std::fs::read_to_string(&p)
        .map_err(|e| SetupError::new("config.json", p.display().to_string(), e.to_string()))?;
    let config = config::parse(&text).map_err(oci_error)?;
    let root = (config.root.as_ref())
        .ok_or_else(|| SetupError::new("config.json", "", "root: missing (required to run)"))?;
    let rootfs = match Path::new(&root.path).is_absolute() {
        true => PathBuf::from(&root.path),
        false => dir.join(&root.path),
    };
    if !rootfs.is_dir() {
        return Err(SetupError::new(
            "root.path",
            rootfs.display().to_string(),
            "no such file or directory (the container's root file system)",
        ));
    }
    Ok(Bundle {
        dir,
        config,
        rootfs,
    })
}

/// What the mapping needs to know about the runtime's situation.
pub fn facts() -> Facts {
    Facts {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        // podman runs its runtime as uid 0 in podman's user namespace, with every capability.
        privileged: caps::has_cap(
            None,
            caps::CapSet::Effective,
            caps::Capability::CAP_SYS_ADMIN,
        )
        .unwrap_or(false),
    }
}

/// The spec's validation error, as the runtime's one line (naming the config's fields).
pub fn check(spec: &Spec) -> Result<(), SetupError> {
    let names = crate::oci::spec::ConfigNames::default();
    crate::spec::validate::validate_as(spec, &names)
        .map_err(|e| SetupError::new("config.json", "", e.message))
}

impl Bundle {
    pub fn annotations(&self) -> serde_json::Map<String, serde_json::Value> {
        (self.config.annotations.iter())
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect()
    }

    pub fn hooks(&self) -> serde_json::Value {
        serde_json::to_value(&self.config.hooks).unwrap_or_default()
    }

    pub fn terminal(&self) -> bool {
        self.config.process.as_ref().is_some_and(|p| p.terminal)
    }

    /// The container's spec; `manager` places its cgroup (linux.cgroupsPath).
    pub fn to_spec(&self, manager: CgroupManager) -> Result<Spec, SetupError> {
        let mut spec =
            crate::oci::spec::to_spec(&self.config, &self.dir, &facts()).map_err(oci_error)?;
        crate::oci::spec::cgroups_path(&self.config, manager, &mut spec).map_err(oci_error)?;
        check(&spec)?;
        Ok(spec)
    }
}

/// `spec`: a config.json for a `rootfs` directory beside it.
pub fn template(rootless: bool) -> String {
    let t = crate::oci::template::template(rootless, &facts());
    crate::oci::template::to_json(&t)
}
