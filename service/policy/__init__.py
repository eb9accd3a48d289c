"""The credit policy and working-day schedules: rules files read at start-up, and their loaders."""

from service.policy.loader import DEFAULT_POLICY_PATH, load_policy, read_policy_data

__all__ = ["DEFAULT_POLICY_PATH", "load_policy", "read_policy_data"]
