"""Client projects with environments of their own (`make sdk-legacy` runs each in its folder): the
main suite does not collect them, since their SDKs are not installed in the main environment."""

collect_ignore = ["freddy_legacy"]
