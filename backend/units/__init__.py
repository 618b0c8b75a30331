"""The administrative tree: city → district → street → grid."""
