//! Placeholder replaced when fixtures are generated.
