ALTER TABLE `experiments` ADD `tags` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `experiments` ADD `note` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `tags` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `note` text;--> statement-breakpoint
CREATE INDEX `runs_created` ON `runs` (`created_at`,`experiment_id`,`position`);
--> statement-breakpoint
-- Issue 26: one spelling, `cancelled` (the run state's), for the webhook type too. Endpoints that
-- subscribed to `run.canceled` keep their subscription under the new name.
UPDATE `webhook_endpoints` SET `events` = replace(`events`, '"run.canceled"', '"run.cancelled"')
WHERE `events` LIKE '%"run.canceled"%';
