"""The credit policy: the versioned rules file shipped with the service, read at start-up."""

from service.policy.loader import DEFAULT_POLICY_PATH, load_policy, read_policy_data

__all__ = ["DEFAULT_POLICY_PATH", "load_policy", "read_policy_data"]
