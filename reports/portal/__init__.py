"""The site portal: a site's own studies by state, each with its report and delivery status,
its returned referrals with the reason, a search and a CSV of a period (issue 16, item 6).

It lives in the reports app because it shows reports and deliveries (hl7_interface); the core
(worklists) scopes and audits every read of it."""
