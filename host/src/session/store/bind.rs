//! A workspace's own database bound to the workspace. Every tag of a
//! session, event or deletion covers the workspace's canonical path, as a
//! shared PostgreSQL database's rows always have: a session recorded
//! honestly in a copy of the workspace, copied into this workspace's
//! database, does not verify here.
//!
//! Databases written before tags covered the workspace are bound once: in
//! one write transaction, every record that verifies without the workspace
//! is tagged again with it (a record that did not verify stays as it was),
//! and the binding is noted, authenticated, in `meta`. A database bound to
//! another workspace is refused with a message saying so.

use super::Store;
use super::backend::{Backend, Records};
use super::delete::AUDIT_DOMAIN;
use super::record::{EVENT_DOMAIN, Seal};
use crate::{Error, Result};

/// The `meta` entry that says which workspace the database is bound to.
const BINDING: &str = "workspace_binding";
const BINDING_DOMAIN: &str = "checkrail workspace binding v1";

impl<B: Backend> Store<B> {
    /// Binds the database to the seal's workspace once (see the module).
    pub(super) fn bind(&self) -> Result<()> {
        let expected = self.seal.tag(BINDING_DOMAIN, &[]);
        let found = self.backend.read(|records| records.meta(BINDING))?;
        match found {
            Some(found) if found == expected => Ok(()),
            Some(_) => Err(self.bound_elsewhere()),
            None => self.backend.write(|records| {
                match records.meta(BINDING)? {
                    Some(found) if found == expected => return Ok(()),
                    Some(_) => return Err(self.bound_elsewhere()),
                    None => {}
                }
                let unbound = Seal {
                    key: self.seal.key.clone(),
                    scope: None,
                };
                self.retag_all(records, &unbound)?;
                records.set_meta(BINDING, Some(&expected))
            }),
        }
    }

    /// Tags again with the workspace every record that verifies under
    /// `unbound`.
    fn retag_all(&self, records: &mut dyn Records, unbound: &Seal) -> Result<()> {
        for mut row in records.rows(&super::backend::RowQuery::default())? {
            for event in records.events(&row.id)? {
                if event.authentic(unbound) {
                    let tag = self.seal.tag(EVENT_DOMAIN, &[event.hash.as_bytes()]);
                    records.retag_event(event.seq, &tag)?;
                }
            }
            if row.verifies(unbound) {
                row.tag = row.compute_tag(&self.seal);
                records.put(&row)?;
            }
        }
        for (deletion, tag) in records.audit_entries()? {
            let parts = deletion.parts();
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            if unbound.verify(AUDIT_DOMAIN, &refs, &tag) {
                let tag = self.seal.tag(AUDIT_DOMAIN, &refs);
                records.retag_audit_entry(&deletion.id, &tag)?;
            }
        }
        Ok(())
    }

    fn bound_elsewhere(&self) -> Error {
        Error::StoreRefused(format!(
            "open the sessions in `{}`: that database holds the sessions of another workspace than `{}` (it was copied, or the workspace moved); give this workspace its own --store, or move the workspace back",
            self.backend.location(),
            self.seal.scope.as_deref().unwrap_or_default()
        ))
    }
}
