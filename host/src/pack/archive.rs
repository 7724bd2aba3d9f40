//! Reading and writing pack files (tar).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::{Error, Manifest, Result, Signature};

/// Largest pack file accepted.
pub(super) const MAX_PACK: u64 = 256 << 20;

/// A pack file in memory: its entries by name.
#[derive(Debug, Clone, Default)]
pub struct PackFile {
    /// Entry name → bytes.
    pub entries: BTreeMap<String, Vec<u8>>,
}

impl PackFile {
    /// Reads a pack file; the error says what is wrong with it.
    pub fn read(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(Error::io("open", path))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        if size > MAX_PACK {
            return Err(Error::Refused(format!(
                "`{}` is {size} bytes; packs are at most {MAX_PACK} bytes",
                path.display()
            )));
        }
        Self::from_reader(file, &format!("`{}`", path.display()))
    }

    /// Reads a pack held in memory (a download).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() as u64 > MAX_PACK {
            return Err(Error::Refused(format!(
                "it is {} bytes; packs are at most {MAX_PACK} bytes",
                bytes.len()
            )));
        }
        Self::from_reader(bytes, "the download")
    }

    /// Reads the tar entries; `what` names the archive in errors.
    fn from_reader(reader: impl Read, what: &str) -> Result<Self> {
        let not_tar = |source| Error::Archive {
            what: what.to_owned(),
            source,
        };
        let mut archive = tar::Archive::new(reader);
        let mut entries = BTreeMap::new();
        let iter = archive.entries().map_err(not_tar)?;
        for entry in iter {
            let mut entry = entry.map_err(not_tar)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .map_err(not_tar)?
                .to_string_lossy()
                .into_owned();
            if name.starts_with('/') || name.split('/').any(|p| p == "..") {
                return Err(Error::Refused(format!(
                    "{what} holds an entry with an unsafe path `{name}`"
                )));
            }
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(not_tar)?;
            entries.insert(name, bytes);
        }
        Ok(Self { entries })
    }

    /// Writes the pack file (entries in name order, fixed metadata, so the
    /// same content always gives the same bytes).
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("crpack.tmp");
        let file = std::fs::File::create(&tmp).map_err(Error::io("create", &tmp))?;
        let mut builder = tar::Builder::new(file);
        for (name, bytes) in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            builder
                .append_data(&mut header, name, bytes.as_slice())
                .map_err(Error::io("write", &tmp))?;
        }
        builder
            .into_inner()
            .and_then(|f| f.sync_all())
            .map_err(Error::io("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(Error::io("write", path))
    }

    /// The manifest's exact bytes (what a signature covers).
    pub fn manifest_bytes(&self) -> Result<&[u8]> {
        self.entries
            .get("manifest.json")
            .map(Vec::as_slice)
            .ok_or_else(|| Error::Refused("the pack has no manifest.json".to_owned()))
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> Result<Manifest> {
        serde_json::from_slice(self.manifest_bytes()?).map_err(|source| Error::Json {
            file: "manifest.json",
            source,
        })
    }

    /// The signature, when the pack is signed.
    pub fn signature(&self) -> Result<Option<Signature>> {
        self.entries
            .get("signature.json")
            .map(|b| {
                serde_json::from_slice(b).map_err(|source| Error::Json {
                    file: "signature.json",
                    source,
                })
            })
            .transpose()
    }
}
