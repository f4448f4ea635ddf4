"""The pages of the review service, one router per area; each route is thin and calls the services."""
