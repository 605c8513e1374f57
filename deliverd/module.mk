$(eval $(call program,deliverd,tern-deliverd,-lpthread -lrnp,))
