//! Subscriber preferences: which channels a subscriber receives, globally
//! and per workflow. A workflow's setting beats the global one; anything
//! unset is on.

use std::collections::BTreeMap;

use crate::wire::{ChannelSettings, PreferencesInput};
use crate::workflow;

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    /// The in-app feed.
    InApp,
    /// Webhook deliveries.
    Webhook,
}

impl Channel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InApp => "in_app",
            Self::Webhook => "webhook",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "in_app" => Some(Self::InApp),
            "webhook" => Some(Self::Webhook),
            _ => None,
        }
    }
}

/// One stored setting: workflow (`None` = global), channel, on or off.
pub type Setting = (Option<String>, Channel, bool);

/// A subscriber's preferences.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preferences {
    global: BTreeMap<Channel, bool>,
    workflows: BTreeMap<String, BTreeMap<Channel, bool>>,
}

impl Preferences {
    /// Builds preferences from stored settings.
    pub fn from_settings(settings: impl IntoIterator<Item = Setting>) -> Self {
        let mut preferences = Self::default();
        for (workflow, channel, enabled) in settings {
            match workflow {
                None => preferences.global.insert(channel, enabled),
                Some(key) => preferences.workflows.entry(key).or_default().insert(channel, enabled),
            };
        }
        preferences
    }

    /// Whether `channel` is on for `workflow`.
    pub fn allows(&self, workflow: &str, channel: Channel) -> bool {
        self.allows_over(&Self::default(), workflow, channel)
    }

    /// Whether `channel` is on for `workflow`, these (a subscriber's) settings
    /// first, then the environment's `defaults`: the subscriber's workflow
    /// setting, their global one, the default for the workflow, the global
    /// default; on when none is set.
    pub fn allows_over(&self, defaults: &Self, workflow: &str, channel: Channel) -> bool {
        self.setting(workflow, channel).or_else(|| defaults.setting(workflow, channel)).unwrap_or(true)
    }

    fn setting(&self, workflow: &str, channel: Channel) -> Option<bool> {
        self.workflows
            .get(workflow)
            .and_then(|settings| settings.get(&channel))
            .or_else(|| self.global.get(&channel))
            .copied()
    }

    /// Every stored setting.
    pub fn settings(&self) -> Vec<Setting> {
        let global = self.global.iter().map(|(channel, enabled)| (None, *channel, *enabled));
        let workflows = self
            .workflows
            .iter()
            .flat_map(|(key, map)| map.iter().map(move |(channel, enabled)| (Some(key.clone()), *channel, *enabled)));
        global.chain(workflows).collect()
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.global.is_empty() && self.workflows.values().all(BTreeMap::is_empty)
    }

    /// The wire form of what is set, and nothing else (environment defaults).
    pub fn to_explicit_wire(&self) -> PreferencesInput {
        let settings = |map: &BTreeMap<Channel, bool>| ChannelSettings {
            in_app: map.get(&Channel::InApp).copied(),
            webhook: map.get(&Channel::Webhook).copied(),
        };
        PreferencesInput {
            global: Some(settings(&self.global)),
            workflows: Some(self.workflows.iter().map(|(key, map)| (key.clone(), settings(map))).collect()),
        }
    }

    /// Reads a complete set of settings (a PUT of environment defaults):
    /// what is absent or null is unset.
    pub fn from_input(input: PreferencesInput) -> Result<Self, PreferencesError> {
        let settings = changes(input)?
            .into_iter()
            .filter_map(|(workflow, channel, value)| value.map(|enabled| (workflow, channel, enabled)));
        Ok(Self::from_settings(settings))
    }

    /// The wire form: every channel globally, and each workflow's overrides.
    pub fn to_wire(&self) -> PreferencesInput {
        let settings = |map: &BTreeMap<Channel, bool>, all: bool| ChannelSettings {
            in_app: map.get(&Channel::InApp).copied().or(all.then_some(true)),
            webhook: map.get(&Channel::Webhook).copied().or(all.then_some(true)),
        };
        PreferencesInput {
            global: Some(settings(&self.global, true)),
            workflows: Some(self.workflows.iter().map(|(key, map)| (key.clone(), settings(map, false))).collect()),
        }
    }
}

/// Why a preferences change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct PreferencesError {
    /// The field at fault.
    pub field: String,
    /// What is wrong.
    pub reason: &'static str,
}

/// One change: workflow (`None` = global), channel, and the new value
/// (`None` removes the setting).
pub type Change = (Option<String>, Channel, Option<bool>);

/// How many workflows one subscriber may set overrides for: what a
/// subscriber (whose own credential writes them) keeps is bounded, as is
/// what a trigger reads for them.
pub const MAX_WORKFLOW_OVERRIDES: usize = 200;

/// The settings a change writes.
pub fn changes(input: PreferencesInput) -> Result<Vec<Change>, PreferencesError> {
    let mut out = Vec::new();
    let mut push = |workflow: Option<String>, settings: ChannelSettings| {
        out.push((workflow.clone(), Channel::InApp, settings.in_app));
        out.push((workflow, Channel::Webhook, settings.webhook));
    };
    if let Some(global) = input.global {
        push(None, global);
    }
    let workflows = input.workflows.unwrap_or_default();
    if workflows.len() > 100 {
        return Err(PreferencesError { field: "workflows".to_owned(), reason: "at most 100 workflows per change" });
    }
    for (key, settings) in workflows {
        workflow::validate_key(&key)
            .map_err(|_| PreferencesError { field: format!("workflows.{key}"), reason: "must be a workflow key" })?;
        push(Some(key), settings);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_subscriber_setting_beats_the_environment_defaults() {
        let defaults = Preferences::from_settings([
            (Some("digest".to_owned()), Channel::InApp, false),
            (None, Channel::Webhook, false),
        ]);
        let nobody = Preferences::default();
        assert!(!nobody.allows_over(&defaults, "digest", Channel::InApp));
        assert!(nobody.allows_over(&defaults, "welcome", Channel::InApp));
        assert!(!nobody.allows_over(&defaults, "welcome", Channel::Webhook));
        let keen = Preferences::from_settings([(None, Channel::InApp, true)]);
        assert!(keen.allows_over(&defaults, "digest", Channel::InApp));
        let round_trip = Preferences::from_input(defaults.to_explicit_wire()).unwrap();
        assert_eq!(round_trip, defaults);
        assert_eq!(Preferences::from_settings(defaults.settings()), defaults);
    }

    #[test]
    fn workflow_settings_beat_global_ones_and_unset_is_on() {
        let preferences = Preferences::from_settings([
            (None, Channel::InApp, false),
            (Some("billing".to_owned()), Channel::InApp, true),
            (Some("digest".to_owned()), Channel::Webhook, false),
        ]);
        assert!(!preferences.allows("welcome", Channel::InApp));
        assert!(preferences.allows("billing", Channel::InApp));
        assert!(preferences.allows("welcome", Channel::Webhook));
        assert!(!preferences.allows("digest", Channel::Webhook));
        assert!(Preferences::default().allows("any", Channel::InApp));
        let wire = preferences.to_wire();
        assert_eq!(wire.global.unwrap().in_app, Some(false));
        assert_eq!(wire.workflows.unwrap()["digest"].in_app, None);
    }

    #[test]
    fn changes_name_bad_workflows() {
        let input: PreferencesInput =
            serde_json::from_value(json!({"global": {"in_app": false}, "workflows": {"Bad Key": {"webhook": true}}}))
                .unwrap();
        assert_eq!(changes(input).unwrap_err().field, "workflows.Bad Key");
        let input: PreferencesInput =
            serde_json::from_value(json!({"workflows": {"billing": {"in_app": null}}})).unwrap();
        assert_eq!(changes(input).unwrap()[0], (Some("billing".to_owned()), Channel::InApp, None));
        assert!(serde_json::from_value::<PreferencesInput>(json!({"global": {"email": true}})).is_err());
    }
}
