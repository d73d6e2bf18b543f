-- Projects became tenants: an `admin` key manages its own project's keys only, and creating
-- projects is an `operator` key's act. The key the first start created (the oldest key, named
-- `bootstrap`, admin of `default`) was the operator's; it keeps its reach as an operator key.
UPDATE `api_keys` SET `role` = 'operator'
WHERE `id` = (SELECT `id` FROM `api_keys` ORDER BY `created_at`, `id` LIMIT 1)
  AND `name` = 'bootstrap' AND `project_id` = 'default' AND `role` = 'admin';
